"""The browser's sealing and validation agree with the server's, byte for byte."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.crypto import InboxKey
from server.validation import CENTRES, CHANNELS, FIELDS, RULES, validate

pytestmark = pytest.mark.browser


@pytest.fixture
def app_page(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/en/p/7")
    return page


def test_an_envelope_sealed_in_chromium_opens_on_the_server(app_page, live_server):  # type: ignore[no-untyped-def]
    plaintext = json.dumps({"v": 1, "fields": {"situation": "Vector ✓ — één"}}, ensure_ascii=False)
    envelope = app_page.evaluate(
        """async (plaintext) => {
          const { seal } = await import('/static/components/help-form/seal.js');
          const key = await (await fetch('/api/inbox-key')).json();
          return seal(key, new TextEncoder().encode(plaintext), 'surya', 'nl');
        }""",
        plaintext,
    )
    # Keep the vector beside the test run, as the spec's example.
    inbox = InboxKey.load_or_create(live_server.data_dir)
    assert envelope["v"] == 1 and envelope["kid"] == inbox.kid
    assert inbox.open(envelope, "surya", "nl") == plaintext.encode()


FORMS = st.fixed_dictionaries(
    {},
    optional={
        "centre": st.sampled_from([*CENTRES, "", "other"]),
        "channel": st.sampled_from([*CHANNELS, ""]),
        "contact": st.sampled_from(
            ["", "0470 12 34 56", "+32 2 511 64 64", "12", "ana@example.com", "ana@", "x" * 130]
        ),
        "postcode": st.sampled_from(["", "1000", "0999", "12345", "abcd"]),
        "name": st.text(max_size=90),
        "situation": st.text(max_size=40),
        "voicemail": st.sampled_from(["", "yes", "no", "maybe"]),
        "identify": st.sampled_from(["", "yes", "cover", "no"]),
        "cover_name": st.sampled_from(["", "Ana", "a\\tb"]),
        "add_check": st.sampled_from(["", "yes", "on", "nope"]),
        "q-forced": st.sampled_from(["", "yes", "no", "x"]),
        "consent": st.sampled_from(["", "yes", "on"]),
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(form=FORMS)
def test_browser_and_server_validate_alike(app_page, form):  # type: ignore[no-untyped-def]
    browser = app_page.evaluate(
        """async ([rules, form]) => {
          const { validate } = await import('/static/components/help-form/validate.js');
          return validate(rules, form);
        }""",
        [json.loads(json.dumps(RULES)), form],
    )
    clean, errors = validate(form)
    assert browser == {"clean": clean, "errors": errors}
    assert set(errors) <= set(FIELDS)
