import subprocess
import sys

import httpx
from click.testing import CliRunner
from conftest import ROOT

import server
from server.cli import main


def test_serve_on_a_free_port_prints_the_address(tmp_path) -> None:  # type: ignore[no-untyped-def]
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "-h", "127.0.0.1", "-p", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"HAVEN_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Haven is running at http://127.0.0.1:")
        url = line.split()[-1]
        for _ in range(100):
            try:
                assert httpx.get(f"{url}healthz").json() == {"status": "ok"}
                break
            except httpx.ConnectError:
                import time

                time.sleep(0.05)
        else:
            raise AssertionError("no answer")
        assert (tmp_path / "data").is_dir()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_bad_port_is_refused() -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "70000"])
    assert result.exit_code == 2
    assert "70000" in result.output


def test_bad_configuration_is_a_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HAVEN_EXIT_URL", "http://tracker.example/")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1
    assert "HAVEN_EXIT_URL" in result.output


def test_a_busy_port_is_a_clear_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import socket

    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and server.__version__ in result.output
