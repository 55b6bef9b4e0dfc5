"""The purge that runs by itself inside ``haven serve``: soon after start, then daily.

Every instance checks every hour whether the purge is due (no instance ran
it in the last 24 hours, by the ``maintenance`` row in the database), and the
one that claims it runs it (see ``storage/retention.py``); with several
instances the deployment still purges once a day. A failure is logged by its
kind alone (an error's text could quote a row) and tried again at the next
check; it never stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections.abc import Callable

from .advisor.sessions import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT
from .content import Content
from .settings import Settings
from .storage import Database
from .storage.retention import NotNow, Policy, Report, purge

logger = logging.getLogger("haven.purge")

FIRST_DELAY = 60.0  # seconds after start: the server answers first
CHECK_EVERY = 3600.0  # seconds between checks whether the purge is due


def policy(settings: Settings) -> Policy:
    """What the settings and the advisors' session limits say is kept, and how long."""
    return Policy(
        retention=dt.timedelta(days=settings.retention_days),
        audit_retention=dt.timedelta(days=settings.audit_retention_days),
        session_idle=IDLE_TIMEOUT,
        session_lifetime=ABSOLUTE_TIMEOUT,
    )


def notice_out_of_date(content: Content, days: int) -> list[str]:
    """The languages whose privacy notice does not say ``days``.

    The number is written in each language, not filled in from the setting:
    the words around a number change with it (Russian, Polish, Arabic, ...).
    """
    number = re.compile(rf"(?<![\d.]){days}(?![\d.])")
    return [
        lang
        for lang, pages in content.pages.items()
        if not number.search(pages["privacy"].section("keep").html)
    ]


def warn_if_notice_out_of_date(content: Content, days: int) -> None:
    stale = notice_out_of_date(content, days)
    if stale:
        logger.warning(
            "HAVEN_RETENTION_DAYS is %d, but the privacy notice does not say so in %s: "
            "change the section {#keep} of content/<lang>/privacy.md in every language",
            days,
            ", ".join(stale),
        )


class DailyPurge:
    """A background task of one process; ``clock`` says what time the purge thinks it is."""

    def __init__(
        self,
        db: Database,
        policy: Policy,
        clock: Callable[[], dt.datetime],
        *,
        first_delay: float = FIRST_DELAY,
        check_every: float = CHECK_EVERY,
    ) -> None:
        self.db = db
        self.policy = policy
        self.clock = clock
        self.first_delay = first_delay
        self.check_every = check_every
        self.runs = 0  # purges this process ran, for tests
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="haven-daily-purge")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        # Cancelled mid-purge, its transaction is rolled back: nothing half done.
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run_once(self) -> Report | None:
        """Purge if it is due; the report, or None when it was not this instance's turn."""
        try:
            report = await purge(self.db, self.policy, self.clock(), when_due=True)
        except NotNow:
            return None
        except Exception as error:
            logger.error("the purge failed (%s); it is tried again later", type(error).__name__)
            return None
        self.runs += 1
        logger.info("purged %d rows (%s)", report.removed, report.detail())
        return report

    async def _loop(self) -> None:
        await asyncio.sleep(self.first_delay)
        while True:
            await self.run_once()
            await asyncio.sleep(self.check_every)
