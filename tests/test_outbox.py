"""A help request written on the phone: sealed, kept offline, delivered exactly once."""

import json
import secrets

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server
from helpers import (
    files_containing,
    fill_help_form,
    outbox_items,
    stored_rows,
    wait_for,
    wait_until_offline_ready,
)

from server.i18n import translations

pytestmark = pytest.mark.browser


def marker() -> str:
    return f"marker-{secrets.token_hex(8)}"


def port_of(server) -> int:  # type: ignore[no-untyped-def]
    return int(server.url.rsplit(":", 1)[1])


def test_written_offline_kept_sealed_then_delivered_once(context, page, tmp_path, neutral_site):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    server = start_server(data, tmp_path / "one.log", neutral_site)
    base = server.url
    page.goto(f"{base}/en/p/7")
    wait_until_offline_ready(page, "en")
    stop_server(server)
    context.set_offline(True)
    page.reload()

    text = marker()
    fill_help_form(page, f"Please help. {text}")
    page.locator("#help-form button[type=submit]").click()
    wait_for(lambda: len(outbox_items(page)) == 1, message="the sealed item")
    stored = json.dumps(outbox_items(page))
    assert text not in stored and "0470" not in stored
    status = page.locator("[data-module=outbox-status]")
    assert status.locator('[data-state="waiting"]').is_visible()
    # The typed text is gone from the form once it is sealed.
    assert page.locator('textarea[name="situation"]').input_value() == ""

    server = start_server(data, tmp_path / "two.log", neutral_site, port=port_of(server))
    try:
        context.set_offline(False)
        wait_for(lambda: outbox_items(page) == [], message="delivery")
        receipt = status.locator('[data-state="sent"]')
        receipt.wait_for()
        assert "HV-" in receipt.inner_text()
        assert receipt.locator(".outbox-status__date").inner_text().strip()
        assert stored_rows(data) == 1
        assert files_containing(tmp_path, text.encode()) == []
    finally:
        stop_server(server)


def test_a_lost_acknowledgement_does_not_make_a_second_record(browser, live_server):  # type: ignore[no-untyped-def]
    # The page delivers by itself here: no worker, so the route below sees every attempt.
    context = browser.new_context(service_workers="block")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/nl/p/7")
        before = stored_rows(live_server.data_dir)
        statuses: list[int] = []

        def lose_the_answer(route):  # type: ignore[no-untyped-def]
            response = route.fetch()  # the server stores it ...
            statuses.append(response.status)
            route.abort("connectionreset")  # ... and the phone never hears back

        page.route("**/api/requests", lose_the_answer, times=1)
        fill_help_form(page, marker(), centre="pag-asa")
        page.locator("#help-form button[type=submit]").click()
        wait_for(lambda: statuses == [201], message="the first delivery", page=page)
        assert len(outbox_items(page)) == 1
        wait_for(lambda: outbox_items(page) == [], message="the retry", page=page)
        assert stored_rows(live_server.data_dir) == before + 1
        page.locator('[data-state="sent"]').wait_for()
    finally:
        context.close()


def test_server_down_then_back(context, page, tmp_path, neutral_site):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    server = start_server(data, tmp_path / "one.log", neutral_site)
    page.goto(f"{server.url}/fr/p/7")
    wait_until_offline_ready(page, "fr")
    stop_server(server)
    fill_help_form(page, marker(), centre="surya")
    page.locator("#help-form button[type=submit]").click()
    wait_for(lambda: len(outbox_items(page)) == 1, message="the waiting item")
    server = start_server(data, tmp_path / "two.log", neutral_site, port=port_of(server))
    try:
        wait_for(lambda: outbox_items(page) == [], timeout=30, message="delivery by retry")
        assert stored_rows(data) == 1
    finally:
        stop_server(server)


def test_delivered_after_the_browser_was_closed(playwright_instance, tmp_path, neutral_site):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    profile = tmp_path / "profile"
    server = start_server(data, tmp_path / "one.log", neutral_site)
    context = playwright_instance.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    page = context.new_page()
    page.goto(f"{server.url}/de/p/7")
    wait_until_offline_ready(page, "de")
    stop_server(server)
    fill_help_form(page, marker())
    page.locator("#help-form button[type=submit]").click()
    wait_for(lambda: len(outbox_items(page)) == 1, message="the waiting item")
    context.close()

    server = start_server(data, tmp_path / "two.log", neutral_site, port=port_of(server))
    context = playwright_instance.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    try:
        page = context.new_page()
        page.goto(f"{server.url}/de/")
        wait_for(lambda: outbox_items(page) == [], message="delivery after reopening")
        page.locator('[data-state="sent"]').wait_for()
        assert stored_rows(data) == 1
    finally:
        context.close()
        stop_server(server)


def test_queued_offline_the_outbox_registers_its_own_sync(context, page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/en/p/7")
    wait_until_offline_ready(page, "en")
    context.set_offline(True)
    fill_help_form(page, marker())
    page.locator("#help-form button[type=submit]").click()
    wait_for(lambda: len(outbox_items(page)) == 1, message="the sealed item")
    # The form only enqueued: the outbox asked the browser for its sync.
    tag, tags = page.evaluate(
        """async () => {
          const { SYNC_TAG } = await import('/static/outbox.js');
          return [SYNC_TAG, await (await navigator.serviceWorker.ready).sync.getTags()]
        }"""
    )
    assert tag in tags


def test_removing_an_item_tells_the_open_pages(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/en/")
    assert outbox_items(page) == []  # nothing else to announce meanwhile
    heard = page.evaluate(
        """async () => {
          const { OUTBOX_CHANNEL, Outbox } = await import('/static/outbox.js');
          const channel = new BroadcastChannel(OUTBOX_CHANNEL);
          const message = new Promise((resolve) => {
            channel.onmessage = (event) => resolve(event.data.type);
            setTimeout(() => resolve(null), 2000)
          });
          await Outbox.remove('no-such-item');
          const type = await message;
          channel.close();
          return type
        }"""
    )
    assert heard == "outbox-changed"


def test_validation_messages_next_to_the_fields_in_the_language(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/fr/p/7")
    form = page.locator("#help-form")
    form.locator('input[name="channel"][value="call"]').check()
    form.locator('input[name="contact"]').fill("pas un numéro")
    form.locator("button[type=submit]").click()
    french = translations("fr").gettext
    expected = {
        "centre": "Please fill this in.",
        "contact": "Please write a phone number, for example 0470 12 34 56 or +32 470 12 34 56.",
        "consent": "Please agree to the privacy notice so that we can send your message.",
    }
    for name, msgid in expected.items():
        error = form.locator(f'[data-error-for="{name}"]')
        assert error.is_visible(), name
        assert error.inner_text() == french(msgid) != msgid
    assert page.evaluate("document.activeElement.name") == "centre"
    assert outbox_items(page) == []
    # Fixing a field takes its message away.
    form.locator('input[name="contact"]').fill("0470 12 34 56")
    assert form.locator('[data-error-for="contact"]').is_hidden()


def test_postcode_chooses_the_centre(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/en/p/7")
    form = page.locator("#help-form")
    for postcode, centre in (("1050", "pag-asa"), ("4700", "surya"), ("9000", "payoke")):
        form.locator('input[name="postcode"]').fill(postcode)
        assert form.locator(f'input[name="centre"][value="{centre}"]').is_checked()


def test_without_javascript_the_server_seals_and_stores(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/en/p/7")
        before = stored_rows(live_server.data_dir)
        text = marker()
        fill_help_form(page, text)
        page.locator("#help-form button[type=submit]").click()
        page.wait_for_load_state()
        assert "HV-" in page.locator("main").inner_text()
        assert stored_rows(live_server.data_dir) == before + 1
        assert files_containing(live_server.data_dir, text.encode()) == []
    finally:
        context.close()
