"""Chromium's own installability check, in a persistent profile as on a phone."""

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS
from helpers import wait_until_offline_ready

pytestmark = pytest.mark.browser


def test_chromium_finds_the_app_installable(playwright_instance, live_server, tmp_path):  # type: ignore[no-untyped-def]
    context = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/en/")
        wait_until_offline_ready(page, "en")
        session = context.new_cdp_session(page)
        result = session.send("Page.getInstallabilityErrors")
        assert result["installabilityErrors"] == []
        manifest = session.send("Page.getAppManifest")
        assert manifest["url"] == f"{live_server.url}/manifest.webmanifest"
        assert not manifest.get("errors")
    finally:
        context.close()
