"""A non-editable install must serve the full app: the wheel carries it all."""

import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_carries_templates_content_locales_and_worker(tmp_path) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("haven-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    for expected in (
        "server/app.py",
        "server/_bundle/pwa/templates/base.html",
        "server/_bundle/pwa/components/quick-exit/quick-exit.js",
        "server/_bundle/service_worker/sw.js",
        "server/_bundle/content/en/home.md",
        "server/_bundle/content/centres.yaml",
        "server/_bundle/locales/nl/LC_MESSAGES/messages.po",
    ):
        assert expected in names, expected
    # The unpacked wheel, not the checkout, renders every page.
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import server.bundle as b, server.app as a, server.settings as s;"
            "assert '_bundle' in str(b.ROOT), b.ROOT;"
            f"app = a.create_app(s.Settings.from_environ({{'HAVEN_DATA_DIR': {str(tmp_path)!r}}}));"
            "print(len(app.state.haven.site.pages))",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert int(check.stdout) >= 40
