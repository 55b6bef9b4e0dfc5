"""The code's layout as the README describes it: folders, module headers, module sizes."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Past this, a module says at its top why it is one module.
MAX_LINES = 300
LONG_REASON = "Kept as one module"


def tracked(*patterns: str) -> list[str]:
    output = subprocess.run(
        ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [line for line in output.splitlines() if line]


def layout_table() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([^`]+)/` \| (.+) \|$", section, re.M))


def test_the_layout_table_lists_every_folder_and_only_folders_that_exist() -> None:
    folders = {path.split("/", 1)[0] for path in tracked() if "/" in path}
    folders.discard(".ci")  # the CI entry point, described under "Test it"
    assert set(layout_table()) == folders


def python_modules() -> list[Path]:
    return [
        ROOT / path
        for path in tracked("server/*.py", "server/**/*.py")
        if "/migrations/versions/" not in path
    ]


def test_every_module_says_first_what_it_provides() -> None:
    for path in python_modules():
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring, f"{path.relative_to(ROOT)} has no docstring"
        first = docstring.splitlines()[0]
        assert first.endswith((".", ":")) and len(first) <= 100, (
            f"{path.relative_to(ROOT)}: the first line should be one sentence: {first!r}"
        )


def test_a_module_over_300_lines_says_why() -> None:
    for path in python_modules():
        lines = path.read_text().count("\n")
        if lines > MAX_LINES:
            docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert LONG_REASON in docstring, (
                f"{path.relative_to(ROOT)} has {lines} lines and does not say why "
                f"({LONG_REASON!r} ... in its docstring)"
            )
