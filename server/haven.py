"""The application object: everything a running Haven holds, typed, reached one way.

``create_app`` builds one :class:`Haven` and keeps it on the Starlette app;
every view reaches it with :func:`of`. Nothing else is kept on ``app.state``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

# Types only: every module may import this one without an import cycle.
if TYPE_CHECKING:
    from .advisor.render import AdvisorPages
    from .advisor.sessions import Sessions
    from .advisor.throttle import SignInBudgets
    from .advisor.totp import TotpBox
    from .advisor.verifier import Verifier
    from .daily_purge import DailyPurge
    from .health import Health
    from .intake import Intake
    from .keys import HeldKeys, InboxKeys
    from .push import PushSender, VapidKey
    from .push_queue import PushQueue
    from .push_services import PushServices
    from .responses import Representation
    from .settings import Settings
    from .site import Site
    from .storage import Database


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Keys:
    """The keys of the keys directory, and what is derived from them."""

    # Everything read from HAVEN_KEYS_DIR, checked against the database at start.
    held: HeldKeys
    # New requests are sealed to the current one; only the advisors' side opens them.
    inbox: InboxKeys
    # The keys an envelope may be sealed to: the current one and the older ones kept.
    kids: frozenset[str]
    # Keys the no-JavaScript form's idempotency hash (forms.py).
    form: bytes
    # The secret every instance derives the day's hash key of the shared limits from.
    limits: bytes


@dataclass
class Files:
    """What is rendered once at start and served as it is, by address."""

    static: Mapping[str, Representation]
    disguises: Mapping[str, Representation]
    manifest: Representation
    service_worker: Representation
    # The service worker's precache list: its version, shared and per-language files.
    precache: Mapping[str, object]
    inbox_key: Representation
    openapi: Representation
    # The dashboard's own files, never precached with the public pages.
    advisor: Mapping[str, Representation]


@dataclass
class Desk:
    """The advisors' side: who is signed in, and what guards signing in."""

    pages: AdvisorPages
    sessions: Sessions
    totp: TotpBox
    budgets: SignInBudgets
    verifier: Verifier


@dataclass
class Push:
    """Content-free pushes to advisors' browsers."""

    key: VapidKey
    services: PushServices
    sender: PushSender
    # What is still to send, shared with every instance through the database.
    queue: PushQueue


@dataclass
class Haven:
    settings: Settings
    site: Site
    db: Database
    intake: Intake
    keys: Keys
    files: Files
    desk: Desk
    push: Push
    # Deletes what is kept no longer, once a day (it has its own clock too).
    purge: DailyPurge
    # What /healthz answers: the database answers, and the keys are still the recorded ones.
    health: Health
    # The advisors' side's clock; the intake keeps its own (Intake.clock).
    clock: Callable[[], dt.datetime] = utc_now


def of(connection: HTTPConnection) -> Haven:
    """The Haven that serves this request."""
    haven = connection.app.state.haven
    assert isinstance(haven, Haven)
    return haven
