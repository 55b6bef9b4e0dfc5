"""Opening what a person sent, one request at a time, never raising.

Whoever can reach the public API can seal anything at all to the inbox key:
valid JSON of any shape, arrays nested thousands deep, lone surrogates,
times in the year 9999, or bytes that are not text. The advisor side must
keep working whatever one envelope holds, so everything content-dependent
happens here: an envelope that does not open, or opens to something that is
not a help request, becomes an :class:`Opened` with a ``problem`` and no
content, and every value that comes out is plain, encodable text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..storage.cases import CaseRow

if TYPE_CHECKING:
    from ..keys import InboxKeys

logger = logging.getLogger("haven.advisor")

# UTF-16 halves that JSON can name (\ud800) but UTF-8 cannot encode.
_SURROGATES = re.compile("[\ud800-\udfff]")
# A time the phone wrote is shown in Brussels time: keep clear of the ends of
# the calendar, where moving it by a time zone overflows.
_EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
UNREADABLE_VALUE = "…"


@dataclass(frozen=True)
class Opened:
    """A request's content as the person wrote it, or why it could not be opened."""

    fields: Mapping[str, str] = field(default_factory=dict)
    written_at: str | None = None
    problem: str | None = None


def plain(text: str) -> str:
    """``text`` with anything UTF-8 cannot carry replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def _value(value: object) -> str:
    if isinstance(value, str):
        return plain(value)
    try:
        return plain(json.dumps(value, ensure_ascii=False))
    except (ValueError, TypeError, RecursionError):
        return UNREADABLE_VALUE


def _moment(value: object) -> str | None:
    """The phone's writing time if it is an ISO time with a zone that can be shown."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None or not _EARLIEST <= moment <= _LATEST:
        return None
    return value


def _document(plaintext: bytes) -> Opened:
    document = json.loads(plaintext.decode("utf-8"))
    if not isinstance(document, dict):
        return Opened(problem="not an object")
    fields = document.get("fields")
    if not isinstance(fields, dict):
        fields = {}
    return Opened(
        fields={plain(str(name)): _value(value) for name, value in fields.items()},
        written_at=_moment(document.get("writtenAt")),
    )


def open_case(inbox_key: InboxKeys, case: CaseRow) -> Opened:
    """Open a request's envelope in memory. Never raises: one hostile envelope
    must not take the inbox down. Values are untrusted text (templates escape)."""
    try:
        envelope = json.loads(case.envelope)
        if not isinstance(envelope, Mapping):
            return Opened(problem="not an envelope")
        return _document(inbox_key.open(envelope, case.sealed_centre, case.language))
    except Exception as error:
        # Only the kind of failure: its text could quote the content.
        logger.info("request %s could not be opened: %s", case.reference, type(error).__name__)
        return Opened(problem=type(error).__name__)


def open_note(inbox_key: InboxKeys, note: bytes | None, reference: str) -> str | None:
    """An advisor's sealed note on ``reference``; None if absent or unreadable."""
    if note is None:
        return None
    try:
        envelope = json.loads(note)
        if not isinstance(envelope, Mapping):
            return None
        value = json.loads(inbox_key.open_note(envelope, reference).decode("utf-8"))
        text = value.get("text") if isinstance(value, dict) else None
    except Exception:
        return None
    return plain(text) if isinstance(text, str) else None
