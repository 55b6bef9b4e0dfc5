"""The documentation keeps up with the code."""

import re
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("domain", ["messages", "advisor"])
def test_interface_strings_are_extracted(domain: str) -> None:
    """Each .pot file must list every string its part of the code uses."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    from babel.messages.pofile import read_po

    config = "babel.cfg" if domain == "messages" else f"{domain}.cfg"
    with (ROOT / "locales" / config).open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    used = {
        message[2]
        for message in extract_from_dir(
            str(ROOT),
            method_map=method_map,
            options_map=options_map,
            keywords={"_": None, "ngettext": (1, 2)},
        )
    }
    with (ROOT / "locales" / f"{domain}.pot").open("rb") as handle:
        listed = {message.id for message in read_po(handle) if message.id}
    assert used == listed


def test_every_language_has_its_translation_status() -> None:
    """docs/translations.md says, for each language, who wrote it and its review."""
    from server.i18n import LANGUAGES

    text = (ROOT / "docs" / "translations.md").read_text()
    rows = dict(re.findall(r"^\| `([\w-]+)` \| [^|]+ \| [^|]+ \| ([^|]+) \|$", text, re.M))
    assert set(rows) == set(LANGUAGES)
    assert all(status.strip() for status in rows.values())


def test_the_readme_names_the_font_packages_the_tests_install() -> None:
    script = (ROOT / "test.sh").read_text()
    packages = set(re.findall(r"missing\+=\((fonts-[\w-]+)\)", script))
    assert packages == {"fonts-noto-core", "fonts-noto-cjk"}
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{package}`" in readme for package in packages)
