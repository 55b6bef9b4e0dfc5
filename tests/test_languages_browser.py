"""Sixteen languages in Chromium: right to left, fonts, the picker (offline: test_offline.py)."""

import os
from pathlib import Path

import pytest

from server.content import PAGE_PATHS
from server.i18n import LANGUAGES

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# Draws each character of a text in the page's own font and compares it with
# what the browser draws for code points no font has (U+0378 is unassigned,
# U+FFFF a noncharacter): a character drawn like them, or not drawn at all, is
# a missing-glyph box. Returns those characters.
MISSING_GLYPHS = """(text) => {
  const canvas = document.createElement('canvas')
  canvas.width = canvas.height = 64
  const g = canvas.getContext('2d', { willReadFrequently: true })
  const font = getComputedStyle(document.body).fontFamily
  const draw = (ch) => {
    g.clearRect(0, 0, 64, 64)
    g.font = `40px ${font}`
    g.textBaseline = 'middle'
    g.fillText(ch, 8, 32)
    return g.getImageData(0, 0, 64, 64).data
  }
  const key = (pixels) => pixels.join(',')
  const boxes = new Set(['\\u0378', '\\uffff'].map((ch) => key(draw(ch))))
  const chars = [...new Set([...text])].filter((ch) => /[^\\s\\p{Cf}]/u.test(ch))
  return chars.filter((ch) => {
    const pixels = draw(ch)
    return boxes.has(key(pixels)) || !pixels.some((value) => value !== 0)
  })
}"""


# Every character of every page of the language, read from the pages' HTML.
ALL_TEXT = """async (paths) => {
  const parser = new DOMParser()
  let text = ''
  for (const path of paths) {
    const html = await (await fetch(path)).text()
    text += parser.parseFromString(html, 'text/html').body.textContent
  }
  return text
}"""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_script_renders_without_missing_glyphs(page, live_server, lang):  # type: ignore[no-untyped-def]
    """A screenshot of each start page is kept; Arabic and Tigrinya are asked for."""
    page.goto(f"{live_server.url}/{lang}/")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"home-{lang}.png", full_page=True)
    assert page.evaluate(MISSING_GLYPHS, page.evaluate("document.body.innerText")) == []
    # Every other page of the language, and the scripts' strings, too.
    paths = [f"/{lang}/{path}" for path in [*PAGE_PATHS.values(), "o"]]
    text = page.evaluate(ALL_TEXT, paths) + page.evaluate("JSON.stringify(window.HAVEN_TEXTS)")
    assert page.evaluate(MISSING_GLYPHS, text) == []
    # The detector itself: a private-use character has no glyph in any font.
    assert page.evaluate(MISSING_GLYPHS, "a\ue000") == ["\ue000"]


def test_arabic_is_mirrored(page, live_server):  # type: ignore[no-untyped-def]
    boxes = {}
    for lang in ("en", "ar"):
        page.goto(f"{live_server.url}/{lang}/p/5")
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
        exit_button = page.locator(".quick-exit").bounding_box()
        cross = page.locator(".quick-exit__cross").bounding_box()
        home = page.locator(".topbar__home").bounding_box()
        language = page.locator(".language-link").bounding_box()
        police = page.locator('.topbar a[href="tel:101"]').bounding_box()
        general = page.locator('.topbar a[href="tel:112"]').bounding_box()
        centre = exit_button["x"] + exit_button["width"] / 2
        boxes[lang] = (cross["x"] < centre, home["x"] < language["x"], police["x"] < general["x"])
        # The quick exit stays at the top, across the screen, in both directions.
        assert exit_button["y"] == 0 and exit_button["width"] >= 350
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]
    assert boxes["en"] == (True, True, True)
    assert boxes["ar"] == (False, False, False)  # each one at the mirrored side


def test_numbers_stay_left_to_right_in_arabic(page, live_server):  # type: ignore[no-untyped-def]
    for path in ("p/5", "p/7", ""):
        page.goto(f"{live_server.url}/ar/{path}")
        directions = page.evaluate(
            """() => [...document.querySelectorAll('a[href^="tel:"] *')]
                 .filter((e) => /\\d/.test(e.textContent) && e.children.length === 0)
                 .map((e) => [e.textContent, getComputedStyle(e).direction])"""
        )
        assert directions, path
        assert all(direction == "ltr" for _, direction in directions), directions
    # A phone number reads in its own order inside Arabic text.
    page.goto(f"{live_server.url}/ar/p/5")
    assert page.locator('a[href="tel:078055800"] span[dir=ltr]').inner_text() == "078 05 58 00"


def test_arabic_back_arrow_points_the_other_way(page, live_server):  # type: ignore[no-untyped-def]
    arrows = {}
    for lang in ("en", "ar"):
        page.goto(f"{live_server.url}/{lang}/")
        page.goto(f"{live_server.url}/{lang}/p/1")
        back = page.locator(".topbar__back")
        assert back.is_visible()
        arrows[lang] = page.evaluate(
            "getComputedStyle(document.querySelector('.topbar__back'), '::before').content"
        )
    assert arrows["en"] != arrows["ar"]


def test_the_picker_is_one_tap_from_every_page(page, live_server):  # type: ignore[no-untyped-def]
    for path in [*PAGE_PATHS.values(), "o"]:
        page.goto(f"{live_server.url}/uk/{path}")
        page.locator(".language-link").click()
        picker = page.locator("#languages")
        picker.wait_for()
        assert picker.is_visible(), path
        links = picker.locator("a[data-language]")
        assert links.count() == len(LANGUAGES)
        names = {
            links.nth(index).get_attribute("lang"): links.nth(index).inner_text()
            for index in range(links.count())
        }
        assert names == {code: lang.name for code, lang in LANGUAGES.items()}


def test_the_glyph_check_sees_a_missing_font(playwright_instance, live_server, tmp_path):  # type: ignore[no-untyped-def]
    """Without the Noto fonts, Chinese and Ge'ez letters are boxes, and the check says so."""
    from conftest import CHROMIUM, CHROMIUM_ARGS

    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{tmp_path}/cache</cachedir>"
        "</fontconfig>"
    )
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        env={**os.environ, "FONTCONFIG_FILE": str(config)},
    )
    try:
        page = browser.new_page()
        page.goto(f"{live_server.url}/zh-Hans/")
        missing = page.evaluate(MISSING_GLYPHS, page.evaluate("document.body.innerText"))
        assert {"简", "体", "ት", "ግ"} <= set(missing)
        assert not {"a", "Б", "1"} & set(missing)
    finally:
        browser.close()
