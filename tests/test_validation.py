"""The help form's rules: one definition, used by the server and the browser."""

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.content import content_ids
from server.validation import (
    CENTRES,
    CHANNELS,
    ERROR_CODES,
    FIELDS,
    POSTCODE_CENTRES,
    POSTCODE_REGIONS,
    centre_for_postcode,
    messages,
    validate,
)

VALID = {"centre": "payoke", "channel": "call", "contact": "0470 12 34 56", "consent": "yes"}


def test_a_minimal_request_is_valid() -> None:
    clean, errors = validate(VALID)
    assert errors == {}
    assert clean == VALID


@pytest.mark.parametrize(
    "number",
    [
        "0470 12 34 56",
        "0470/12.34.56",
        "02 511 64 64",
        "+32 470 12 34 56",
        "0032470123456",
        "+44 20 7946 0958",
        "+40 721 234 567",
        "(02) 511-64-64",
    ],
)
def test_phone_numbers_belgian_and_international(number: str) -> None:
    assert validate({**VALID, "contact": number})[1] == {}


@pytest.mark.parametrize(
    "number", ["12345", "0470", "+0 123 456 789", "call me", "0470 12 34 56 78 90 12", "+32abc"]
)
def test_not_phone_numbers(number: str) -> None:
    assert validate({**VALID, "contact": number})[1] == {"contact": "phone"}


@pytest.mark.parametrize("address", ["ana@example.com", "a.b+c@mail.example.be"])
def test_email_addresses(address: str) -> None:
    assert validate({**VALID, "channel": "email", "contact": address})[1] == {}


@pytest.mark.parametrize("address", ["ana", "ana@", "@example.com", "ana@example", "a b@x.be"])
def test_not_email_addresses(address: str) -> None:
    assert validate({**VALID, "channel": "email", "contact": address})[1] == {"contact": "email"}


def test_contact_needed_only_for_channels_that_use_it() -> None:
    assert validate({**VALID, "contact": ""})[1] == {"contact": "contact_required"}
    clean, errors = validate({**VALID, "channel": "self", "contact": "not a number"})
    assert errors == {} and "contact" not in clean


def test_required_fields_and_consent() -> None:
    errors = validate({})[1]
    assert errors == {"centre": "required", "channel": "required", "consent": "consent"}


def test_choices_and_lengths() -> None:
    errors = validate(
        {
            **VALID,
            "centre": "elsewhere",
            "voicemail": "maybe",
            "situation": "x" * 1501,
            "name": "a\nb",
            "postcode": "0999",
        }
    )[1]
    assert errors == {
        "centre": "choice",
        "voicemail": "choice",
        "situation": "too_long",
        "name": "control",
        "postcode": "postcode",
    }


def test_self_check_answers_only_when_added() -> None:
    form = {**VALID, "q-forced": "yes", "q-pay": "no"}
    assert "q-forced" not in validate(form)[0]
    assert validate({**form, "add_check": "yes"})[0]["q-forced"] == "yes"


def test_unknown_fields_are_dropped() -> None:
    assert "evil" not in validate({**VALID, "evil": "<script>"})[0]


@pytest.mark.parametrize(
    ("postcode", "centre"),
    [
        ("1000", "pag-asa"),
        ("1299", "pag-asa"),
        ("1300", "surya"),
        ("1499", "surya"),
        ("1500", "payoke"),
        ("3999", "payoke"),
        ("4000", "surya"),
        ("4700", "surya"),
        ("7999", "surya"),
        ("8000", "payoke"),
        ("9999", "payoke"),
        ("999", None),
        ("abcd", None),
    ],
)
def test_postcode_regions(postcode: str, centre: str | None) -> None:
    assert centre_for_postcode(postcode) == centre


def test_the_form_offers_the_centres_and_questions_of_the_content() -> None:
    ids = content_ids()
    assert FIELDS["centre"]["choices"] == (*ids.centres, "unknown")
    asked = [name.removeprefix("q-") for name in FIELDS if name.startswith("q-")]
    assert asked == list(ids.questions)
    # Each postcode range leads to a centre of its own region.
    assert len(POSTCODE_CENTRES) == len(POSTCODE_REGIONS)
    for (low, high, region), (low_, high_, centre) in zip(
        POSTCODE_REGIONS, POSTCODE_CENTRES, strict=True
    ):
        assert (low, high) == (low_, high_) and ids.regions[centre] == region


def test_every_error_has_a_message() -> None:
    texts = messages(lambda text: text)
    assert set(texts) == set(ERROR_CODES)
    assert "{max}" in texts["too_long"]


text_values = st.one_of(
    st.text(max_size=120), st.sampled_from(["yes", "no", "", *CENTRES, *CHANNELS])
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([*FIELDS, "other"]), text_values))
def test_validate_never_crashes_and_only_known_codes(form: dict[str, str]) -> None:
    clean, errors = validate(form)
    assert set(errors.values()) <= set(ERROR_CODES)
    assert set(clean) <= set(FIELDS)
    assert not set(clean) & set(errors)


@given(st.text(alphabet=string.digits + " +./-()", max_size=30))
def test_phone_check_is_total(number: str) -> None:
    errors = validate({**VALID, "contact": number})[1]
    assert errors in ({}, {"contact": "phone"}, {"contact": "contact_required"})
