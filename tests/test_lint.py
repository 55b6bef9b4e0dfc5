"""ruff and mypy stay clean; ESLint and TypeScript too, for the JavaScript."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

# TypeScript's projects: the pages, the worker's three scripts, the dashboard's worker.
TS_PROJECTS = ("tsconfig.json", "service_worker/tsconfig.json", "pwa/advisor/tsconfig.sw.json")
# Checked in the worker's project, where checkJs is on; the pages' project,
# which checks only the scripts that ask to be, reads its types.
NOT_OPTED_IN = "service_worker/outbox.js"


def test_ruff() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "server", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_mypy() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def node_tool(name: str) -> str:
    """A command installed by `npm ci`; missing, the check fails rather than skips."""
    tool = ROOT / "node_modules" / ".bin" / name
    assert tool.exists(), f"{tool.relative_to(ROOT)} is missing: run `npm ci` (./test.sh does)"
    return str(tool)


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def test_eslint() -> None:
    result = run(node_tool("eslint"), ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("project", TS_PROJECTS)
def test_tsc(project: str) -> None:
    result = run(node_tool("tsc"), "-p", project)
    assert result.returncode == 0, result.stdout + result.stderr


def tracked(*patterns: str) -> list[str]:
    return run("git", "ls-files", *patterns).stdout.split()


def test_every_script_is_in_a_typescript_project() -> None:
    assert sorted(tracked("tsconfig*.json", "**/tsconfig*.json")) == sorted(TS_PROJECTS)
    checked: set[str] = set()
    for project in TS_PROJECTS:
        result = run(node_tool("tsc"), "-p", project, "--listFilesOnly")
        assert result.returncode == 0, result.stdout + result.stderr
        checked |= {
            Path(line).relative_to(ROOT).as_posix()
            for line in result.stdout.split()
            if Path(line).is_relative_to(ROOT)
        }
    assert set(tracked("pwa/*.js", "service_worker/*.js")) - checked == set()


def test_every_page_script_asks_to_be_checked() -> None:
    for path in tracked("pwa/*.js", "service_worker/*.js"):
        if path != NOT_OPTED_IN:
            first = (ROOT / path).read_text(encoding="utf-8").split("\n", 1)[0]
            assert first == "// @ts-check", f"{path} does not start with // @ts-check"
