"""The documentation keeps up with the code."""

import re
from pathlib import Path

import server

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_the_readme() -> None:
    source = (ROOT / "server" / "settings.py").read_text()
    names = set(re.findall(r'"(HAVEN_[A-Z_]+)"', source))
    assert names, "settings.py reads its variables by name"
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in sorted(names) if f"`{name}`" not in readme]
    assert not missing


def test_nothing_else_reads_the_environment() -> None:
    for path in (ROOT / "server").rglob("*.py"):
        if path.name != "settings.py":
            assert "os.environ" not in path.read_text(), path


def test_changelog_top_version_is_the_package_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    top = re.search(r"^## (\d+\.\d+\.\d+) - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert top and top[1] == server.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{server.__version__}"' in pyproject


def test_interface_strings_are_extracted() -> None:
    """messages.pot must list every string the templates and the server use."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    method_map = [("server/**.py", "python"), ("pwa/**.html", "jinja2")]
    options = {
        "pwa/**.html": {
            "extensions": "jinja2.ext.i18n",
            "trim_blocks": "true",
            "lstrip_blocks": "true",
        }
    }
    used = {
        message[2]
        for message in extract_from_dir(
            str(ROOT), method_map=method_map, options_map=options, keywords={"_": None}
        )
    }
    with (ROOT / "locales" / "messages.pot").open("rb") as handle:
        listed = {message.id for message in read_po(handle) if message.id}
    assert used == listed
