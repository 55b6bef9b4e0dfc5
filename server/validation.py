"""The help form's fields and rules: one definition for the browser and the server.

The rules are plain data. The server validates with :func:`validate`; the same
rules are rendered into the form as JSON for ``help-form.js``, which applies
them the same way, so the two cannot drift apart. Patterns are written in the
common subset of Python's ``re`` and JavaScript's ``RegExp`` (``u`` flag).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .content import content_ids

# The centres and the self-check's questions are those of content/.
_IDS = content_ids()
CENTRE_IDS = _IDS.centres
# "I don't know": a coordinator routes the request to a centre.
UNKNOWN_CENTRE = "unknown"
CENTRES = (*CENTRE_IDS, UNKNOWN_CENTRE)
CHANNELS = ("call", "sms", "whatsapp", "signal", "email", "self")
NUMBER_CHANNELS = ("call", "sms", "whatsapp", "signal")
YES_NO = ("yes", "no")
QUESTION_IDS = _IDS.questions

# Separators people type inside phone numbers; removed before the check.
PHONE_SEPARATORS = r"[\s().\-/]"
PHONE = r"^(?:(?:\+|00)[1-9][0-9]{6,14}|0[1-9][0-9]{7,8})$"
EMAIL = r"^[^\s@]{1,64}@[^\s@.]+(?:\.[^\s@.]+)*\.[^\s@.]{2,}$"
POSTCODE = r"^[1-9][0-9]{3}$"
# Control characters other than tab and newline never belong in a message
# (C0, DEL, C1 and the byte-order mark). Rejecting them first also keeps the
# patterns below out of the few places where Python's and JavaScript's \s differ.
CONTROL = r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufeff]"
# What JavaScript's String.prototype.trim() removes, so both sides trim alike.
TRIM = (
    r"^[\t\n\u000b\u000c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"
    r"|[\t\n\u000b\u000c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$"
)

FIELDS: dict[str, dict[str, Any]] = {
    "centre": {"kind": "choice", "choices": CENTRES, "required": True},
    "postcode": {"kind": "text", "max": 4, "pattern": POSTCODE, "message": "postcode"},
    "name": {"kind": "text", "max": 80},
    "languages": {"kind": "text", "max": 120},
    "channel": {"kind": "choice", "choices": CHANNELS, "required": True},
    "contact": {
        "kind": "contact",
        "max": 120,
        "required_for": {"channel": [*NUMBER_CHANNELS, "email"]},
    },
    "times": {"kind": "text", "max": 200},
    "voicemail": {"kind": "choice", "choices": YES_NO},
    "identify": {"kind": "choice", "choices": ("yes", "cover", "no")},
    "cover_name": {"kind": "text", "max": 60},
    "code_word": {"kind": "text", "max": 40},
    "situation": {"kind": "text", "max": 1500, "multiline": True},
    "add_check": {"kind": "flag"},
    **{f"q-{qid}": {"kind": "choice", "choices": YES_NO} for qid in QUESTION_IDS},
    "consent": {"kind": "flag", "required": True, "message": "consent"},
}

# Belgian postcode ranges and their region (Wallonia includes the
# German-speaking community), as the regions of content/centres.yaml.
POSTCODE_REGIONS = (
    (1000, 1299, "brussels"),
    (1300, 1499, "wallonia"),
    (1500, 3999, "flanders"),
    (4000, 7999, "wallonia"),
    (8000, 9999, "flanders"),
)
# A region's centre: the first of centres.yaml in that region.
_REGION_CENTRES = dict(reversed([(region, centre) for centre, region in _IDS.regions.items()]))
POSTCODE_CENTRES = tuple(
    (low, high, _REGION_CENTRES[region])
    for low, high, region in POSTCODE_REGIONS
    if region in _REGION_CENTRES
)

RULES: dict[str, Any] = {
    "fields": FIELDS,
    "phone": PHONE,
    "phoneSeparators": PHONE_SEPARATORS,
    "email": EMAIL,
    "control": CONTROL,
    "numberChannels": NUMBER_CHANNELS,
    "postcodeCentres": POSTCODE_CENTRES,
}

# Error codes; their texts live in messages() so that they are translated.
ERROR_CODES = (
    "required",
    "choice",
    "too_long",
    "control",
    "phone",
    "email",
    "postcode",
    "consent",
    "contact_required",
)


def messages(_: Callable[[str], str]) -> dict[str, str]:
    """The error texts in one language, by code; ``{max}`` is filled in later."""
    return {
        "required": _("Please fill this in."),
        "choice": _("Please choose one of the options."),
        "too_long": _("Please keep this to {max} characters or fewer."),
        "control": _("Please remove the special characters."),
        "phone": _("Please write a phone number, for example 0470 12 34 56 or +32 470 12 34 56."),
        "email": _("Please write an e-mail address, for example name@example.com."),
        "postcode": _("Please write a Belgian postcode: 4 digits, for example 1000."),
        "consent": _("Please agree to the privacy notice so that we can send your message."),
        "contact_required": _("Please write the number or address we should use."),
    }


def trim(value: str) -> str:
    return re.sub(TRIM, "", value)


def normalise_phone(value: str) -> str:
    return re.sub(PHONE_SEPARATORS, "", value)


def _check_text(name: str, value: str, rule: Mapping[str, Any]) -> str | None:
    if rule.get("required") and not value:
        return str(rule.get("message", "required"))
    if not value:
        return None
    if len(value) > int(rule["max"]):
        return "too_long"
    if rule.get("multiline"):
        if re.search(CONTROL, value):
            return "control"
    elif re.search(CONTROL, value) or "\n" in value or "\t" in value:
        return "control"
    pattern = rule.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        return str(rule.get("message", "choice"))
    return None


def validate(form: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Check submitted fields; returns (clean values, error code per field).

    Unknown fields are ignored, not stored. Text is trimmed. A flag is "yes"
    when ticked. The self-check answers are kept only when ``add_check`` is on.
    """
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, rule in FIELDS.items():
        raw = form.get(name, "")
        value = trim(raw) if isinstance(raw, str) else ""
        kind = rule["kind"]
        error: str | None = None
        if kind == "choice":
            if not value:
                error = "required" if rule.get("required") else None
            elif value not in rule["choices"]:
                error = "choice"
        elif kind == "flag":
            if value not in ("", "yes", "on"):
                error = "choice"
            else:
                value = "yes" if value else ""
                if rule.get("required") and not value:
                    error = str(rule.get("message", "required"))
        elif kind == "contact":
            error = _check_contact(value, trim(form.get("channel", "")), rule)
        else:
            error = _check_text(name, value, rule)
        if error:
            errors[name] = error
        elif value:
            clean[name] = value
    if clean.get("add_check") != "yes":
        for qid in QUESTION_IDS:
            clean.pop(f"q-{qid}", None)
    if clean.get("identify") != "cover":
        clean.pop("cover_name", None)
    if clean.get("channel") not in (*NUMBER_CHANNELS, "email"):
        clean.pop("contact", None)
    return clean, errors


def _check_contact(value: str, channel: str, rule: Mapping[str, Any]) -> str | None:
    needed = channel in rule["required_for"]["channel"]
    if not needed:
        return None
    if not value:
        return "contact_required"
    if len(value) > int(rule["max"]):
        return "too_long"
    if re.search(CONTROL, value):
        return "control"
    if channel == "email":
        return None if re.fullmatch(EMAIL, value) else "email"
    return None if re.fullmatch(PHONE, normalise_phone(value)) else "phone"


def centre_for_postcode(postcode: str) -> str | None:
    """The centre for a Belgian postcode's region, or None if it is not one."""
    if not re.fullmatch(POSTCODE, postcode):
        return None
    number = int(postcode)
    for low, high, centre in POSTCODE_CENTRES:
        if low <= number <= high:
            return centre
    return None
