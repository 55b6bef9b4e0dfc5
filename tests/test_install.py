"""Chromium's own installability check, in a persistent profile as on a phone."""

import pytest
from helpers import installability

pytestmark = pytest.mark.browser


def test_chromium_finds_the_app_installable(playwright_instance, live_server, tmp_path):  # type: ignore[no-untyped-def]
    verdict = installability(playwright_instance, tmp_path / "profile", live_server.url, "/en/")
    assert verdict["errors"] == []
    assert verdict["manifest"]["url"] == f"{live_server.url}/manifest.webmanifest"
    assert not verdict["manifest"].get("errors")
