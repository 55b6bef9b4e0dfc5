"""Logging that a flood cannot turn into a full disk.

Under tens of thousands of half-open connections the event loop reports the
same accept error many times a second, each with its traceback. A warning or
error that repeats within an interval is written once; the next time it is
written, it says how many like it were left out. Nothing below WARNING is
held back (the access log stays whole), and the filter's memory is bounded.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

REPEAT_INTERVAL = 60.0  # seconds
MAX_KINDS = 1000
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|\d+(?:\.\d+)?")


@dataclass
class _Seen:
    first: float
    held_back: int = 0


class RepeatFilter(logging.Filter):
    """Lets one of each kind of warning or error through per interval."""

    def __init__(
        self,
        interval: float = REPEAT_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = MAX_KINDS,
    ) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._max_kinds = max_kinds
        self._seen: OrderedDict[tuple[str, int, str, str], _Seen] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        # The message before its arguments ("push to %d failed" is one kind), and
        # with its numbers left out: asyncio writes timers and addresses into it.
        kind = (
            record.name,
            record.levelno,
            _NUMBERS.sub("#", str(record.msg).split("\n", 1)[0])[:200],
            type(record.exc_info[1]).__name__ if record.exc_info else "",
        )
        now = self._clock()
        seen = self._seen.get(kind)
        if seen is not None and now - seen.first < self.interval:
            seen.held_back += 1
            return False
        if seen is not None and seen.held_back:
            record.msg = (
                f"{record.msg} [{seen.held_back} more like this were left out "
                f"in {self.interval:.0f} s]"
            )
        self._seen.pop(kind, None)
        self._seen[kind] = _Seen(now)
        while len(self._seen) > self._max_kinds:
            self._seen.popitem(last=False)
        return True


def configure(level: str) -> None:
    """The process's logging: one handler on standard error, repeats held back."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RepeatFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
