"""The dashboard in real Chromium: a phone sends, advisors sign in and follow up."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import axe_playwright_python
import pytest
from advisors import PASSWORD, add_by_command
from conftest import ROOT, LiveServer, start_server, stop_server
from helpers import fill_help_form, wait_for, wait_until_offline_ready
from pushservice import FakePushService

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"

ADVISOR_CACHED = """async () => {
  const found = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) {
      if (new URL(request.url).pathname.startsWith('/advisor')) found.push(request.url);
    }
  }
  return found;
}"""


def add_advisor(server: LiveServer, email: str, centre: str) -> None:
    result = add_by_command(server.data_dir, email, centre)
    assert result.returncode == 0 or "exists already" in result.stderr, result.stderr


def sign_in(page, server: LiveServer, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/advisor/")
    assert "/advisor/login" in page.url
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("form.login button[type=submit]").click()
    page.wait_for_url(f"{server.url}/advisor/")


def send_from_a_phone(browser, server: LiveServer, situation: str) -> str:  # type: ignore[no-untyped-def]
    phone = browser.new_context(viewport={"width": 360, "height": 780})
    try:
        page = phone.new_page()
        page.goto(f"{server.url}/en/p/7")
        fill_help_form(page, situation, centre="payoke")
        page.locator("#help-form button[type=submit]").click()
        receipt = page.locator('[data-module=outbox-status] [data-state="sent"]')
        receipt.wait_for(timeout=20000)
        match = re.search(r"HV-[A-Z0-9]{4}-[A-Z0-9]{4}", receipt.inner_text())
        assert match, receipt.inner_text()
        return match.group(0)
    finally:
        phone.close()


def test_advisors_follow_up_a_request_sent_from_a_phone(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    add_advisor(live_server, "anna.browser@payoke.be", "payoke")
    add_advisor(live_server, "chloe.browser@surya.be", "surya")
    reference = send_from_a_phone(browser, live_server, f"Please help. {XSS}")
    assert reference.startswith("HV-")

    desk = browser.new_context(viewport={"width": 1100, "height": 900})
    page = desk.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        sign_in(page, live_server, "anna.browser@payoke.be")
        row = page.locator(f'tr[data-reference="{reference}"]')
        assert row.is_visible()
        assert "Phone call" in row.inner_text()
        row.locator("a").click()
        page.wait_for_url(f"**/advisor/requests/{reference}")
        situation = page.locator('[data-field="situation"]')
        assert situation.inner_text() == f"Please help. {XSS}"
        assert page.locator("main img").count() == 0
        assert page.evaluate("() => window.__pwned") is None and dialogs == []

        page.fill("#contact-note", "Called, will meet on Thursday")
        page.locator("#action-contact button").click()
        page.wait_for_url(f"**/advisor/requests/{reference}?done=contact")
        assert page.locator('[data-status="contacted"]').is_visible()
        assert "Called, will meet on Thursday" in page.locator(".history").inner_text()

        page.select_option("#transfer-centre", "surya")
        page.fill("#transfer-note", "Lives in Liège now")
        page.locator("#action-transfer button").click()
        page.wait_for_url("**/advisor/?done=transfer")
        assert page.locator(f'tr[data-reference="{reference}"]').count() == 0

        page.locator("form[action='/advisor/logout'] button").click()
        page.wait_for_url("**/advisor/login?bye=1")
        sign_in(page, live_server, "chloe.browser@surya.be")
        page.locator(f'tr[data-reference="{reference}"] a').click()
        assert "Lives in Liège now" in page.locator(".history").inner_text()
        page.select_option("#close-outcome", "supported")
        page.locator("#action-close button").click()
        page.wait_for_url(f"**/advisor/requests/{reference}?done=close")
        assert page.locator('[data-status="closed"]').is_visible()
        assert page.locator("#action-close").count() == 0
        page.goto(f"{live_server.url}/advisor/?status=closed")
        assert page.locator(f'tr[data-reference="{reference}"]').is_visible()
    finally:
        desk.close()


def test_the_dashboard_has_its_own_worker_and_the_public_one_keeps_nothing_of_it(
    browser, live_server
) -> None:  # type: ignore[no-untyped-def]
    add_advisor(live_server, "anna.browser@payoke.be", "payoke")
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/en/")
        wait_until_offline_ready(page, "en")
        sign_in(page, live_server, "anna.browser@payoke.be")
        toggle = page.locator("[data-push-toggle]")
        toggle.wait_for(state="visible")
        assert toggle.get_attribute("aria-pressed") == "false"
        scope = page.evaluate(
            "async () => (await navigator.serviceWorker.getRegistration('/advisor/')).scope"
        )
        assert scope == f"{live_server.url}/advisor/"
        page.goto(f"{live_server.url}/advisor/?status=all")
        assert page.evaluate(ADVISOR_CACHED) == []
    finally:
        context.close()


def test_the_dashboard_passes_axe(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    add_advisor(live_server, "anna.browser@payoke.be", "payoke")
    send_from_a_phone(browser, live_server, "Please call me.")
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 780})
    page = context.new_page()
    try:
        problems = {}
        page.goto(f"{live_server.url}/advisor/login")
        for name in ("login", "inbox", "request"):
            if name == "inbox":
                sign_in(page, live_server, "anna.browser@payoke.be")
            if name == "request":
                page.locator("tr[data-reference] a").first.click()
                page.wait_for_url("**/advisor/requests/**")
            page.add_script_tag(path=str(AXE))
            violations = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            )
            if violations:
                problems[name] = [
                    (v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations
                ]
        assert not problems, problems
    finally:
        context.close()


STUB_PUSH_MANAGER = """(() => {
  // Chromium's real push service is out of reach here; this stands in for it
  // in the page and hands out the fake push service's subscription. Like a
  // real one it outlives the page (kept in localStorage) and remembers the
  // key it was made for.
  const json = %s;
  const SAVED = '__stub_push_subscription_key';
  const make = (key) => ({
    endpoint: json.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: new Uint8Array(key).buffer },
    toJSON: () => json,
    unsubscribe: async () => {
      localStorage.removeItem(SAVED);
      window.__unsubscribed = (window.__unsubscribed || 0) + 1;
      return true;
    }
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = Array.from(new Uint8Array(options.applicationServerKey));
    window.__subscribed = { userVisibleOnly: options.userVisibleOnly, keyLength: key.length };
    window.__subscribedKey = key;
    localStorage.setItem(SAVED, JSON.stringify(key));
    return make(key);
  };
  PushManager.prototype.getSubscription = async function () {
    const saved = localStorage.getItem(SAVED);
    return saved ? make(JSON.parse(saved)) : null;
  };
})()"""


@pytest.fixture
def push_server(tmp_path: Path, neutral_site: str) -> Iterator[tuple[FakePushService, LiveServer]]:
    """A fake push service, and a server of its own that lists it, as it must to reach it."""
    with FakePushService() as push:
        server = start_server(
            tmp_path / "data",
            tmp_path / "server.log",
            neutral_site,
            env={"HAVEN_PUSH_SERVICES": push.origin},
        )
        yield push, server
        stop_server(server)


def signed_in_with_push(browser, server: LiveServer, push: FakePushService, email: str):  # type: ignore[no-untyped-def]
    """A PAYOKE advisor's browser, signed in, whose push manager hands out the fake
    push service's subscription for a device named after the e-mail's local part."""
    add_advisor(server, email, "payoke")
    subscription = push.subscribe(email.split("@")[0].replace(".", "-"))
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=server.url)
    context.add_init_script(STUB_PUSH_MANAGER % json.dumps(subscription))
    page = context.new_page()
    sign_in(page, server, email)
    return context, page


def test_notify_me_subscribes_and_the_worker_shows_a_content_free_notification(
    browser, push_server: tuple[FakePushService, LiveServer]
) -> None:  # type: ignore[no-untyped-def]
    push, live_server = push_server
    context, page = signed_in_with_push(browser, live_server, push, "anna.browser@payoke.be")
    try:
        toggle = page.locator("[data-push-toggle]")
        toggle.wait_for(state="visible")
        toggle.click()
        page.wait_for_selector('[data-push-toggle][aria-pressed="true"]')
        assert page.evaluate("() => window.__subscribed") == {
            "userVisibleOnly": True,
            "keyLength": 65,
        }

        send_from_a_phone(browser, live_server, "PUSH-BROWSER-SECRET please call")
        message = push.wait_for(1)[-1]
        assert message.name == "anna-browser" and message.payload is not None
        payload = message.payload.decode()
        assert json.loads(payload) == {"type": "inbox", "centre": "payoke"}

        # Hand the decrypted message to the dashboard's worker, as Chromium would.
        cdp = context.new_cdp_session(page)
        registrations: list[dict[str, str]] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        wait_for(
            lambda: any(r["scopeURL"].endswith("/advisor/") for r in registrations),
            page=page,
            message="the dashboard's worker",
        )
        registration = next(r for r in registrations if r["scopeURL"].endswith("/advisor/"))
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": live_server.url,
                "registrationId": registration["registrationId"],
                "data": payload,
            },
        )
        shown: list[dict[str, str]] = []

        def notifications() -> bool:
            shown[:] = page.evaluate(
                """async () => (await (await navigator.serviceWorker
                    .getRegistration('/advisor/')).getNotifications())
                    .map((n) => ({title: n.title, body: n.body, tag: n.tag}))"""
            )
            return bool(shown)

        wait_for(notifications, page=page, message="a notification")
        assert shown == [
            {
                "title": "Haven",
                "body": "Something new is waiting in the inbox.",
                "tag": "inbox-payoke",
            }
        ]

        # Switching it off removes the subscription on the server.
        toggle.click()
        page.wait_for_selector('[data-push-toggle][aria-pressed="false"]')
        count = len(push.received)
        send_from_a_phone(browser, live_server, "after unsubscribing")
        page.wait_for_timeout(500)
        assert len(push.received) == count
    finally:
        context.close()


def _push_key(url: str, page) -> list[int]:  # type: ignore[no-untyped-def]
    encoded = page.evaluate(
        "async () => (await (await fetch('/advisor/api/push-key')).json()).publicKey"
    )
    return list(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def test_after_a_vapid_rotation_the_dashboard_subscribes_again_with_the_new_key(
    browser, tmp_path: Path, neutral_site: str
) -> None:  # type: ignore[no-untyped-def]
    data, log = tmp_path / "data", tmp_path / "server.log"
    with FakePushService() as push:
        env = {"HAVEN_PUSH_SERVICES": push.origin}
        server = start_server(data, log, neutral_site, env=env)
        context, page = signed_in_with_push(browser, server, push, "bert.browser@payoke.be")
        try:
            page.locator("[data-push-toggle]").click()
            page.wait_for_selector('[data-push-toggle][aria-pressed="true"]')
            old_key = page.evaluate("() => window.__subscribedKey")
            assert old_key == _push_key(server.url, page)
            stop_server(server)

            rotated = subprocess.run(
                [sys.executable, "-m", "server", "keys", "rotate", "--vapid"],
                env={**os.environ, "HAVEN_DATA_DIR": str(data)},
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert rotated.returncode == 0, rotated.stderr
            # The same address after the restart: the browser's storage and cookie stay.
            port = int(server.url.rsplit(":", 1)[1])
            server = start_server(data, log, neutral_site, port=port, env=env)

            # The advisor's next visit finds a subscription for the old key,
            # drops it and subscribes again with the new one, without a click.
            page.reload()
            page.wait_for_selector('[data-push-toggle][aria-pressed="true"]')
            new_key = _push_key(server.url, page)
            assert new_key != old_key
            wait_for(
                lambda: page.evaluate("() => window.__subscribedKey") == new_key,
                page=page,
                message="a subscription with the new key",
            )
            assert page.evaluate("() => window.__unsubscribed") == 1

            # The server has the new subscription: the next request reaches the device.
            send_from_a_phone(browser, server, "after the VAPID rotation")
            message = push.wait_for(1)[-1]
            assert message.name == "bert-browser" and message.payload is not None
            assert json.loads(message.payload) == {"type": "inbox", "centre": "payoke"}
        finally:
            context.close()
            stop_server(server)
