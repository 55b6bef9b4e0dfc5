"""Every environment variable Haven reads, read once, with a cast and a default.

Nothing else in the package touches ``os.environ``: tests build a
:class:`Settings` from a plain mapping instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.config import Config
from starlette.datastructures import CommaSeparatedStrings, Secret

from .push_services import origin_of

DEFAULT_EXIT_URL = "https://www.meteo.be/"
# Generous enough for a shelter's shared Wi-Fi, low enough to stop a flood.
DEFAULT_REQUEST_RATE = "60/3600"
# Connections one process serves at once; more are answered 503 at once.
DEFAULT_MAX_CONNECTIONS = 500
# Push services want a way to reach whoever sends: set HAVEN_PUSH_SUBJECT.
DEFAULT_PUSH_SUBJECT = "mailto:operator@localhost"
# Days a closed request, and an audit entry, are kept before the purge deletes them.
DEFAULT_RETENTION_DAYS = 90
DEFAULT_AUDIT_RETENTION_DAYS = 365
MAX_RETENTION_DAYS = 3650  # ten years: past that, a typo rather than a policy
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


def _push_subject_of(base_url: str) -> str:
    """The default push subject: the site's https:// address without port or path."""
    host = urlsplit(base_url).hostname if base_url.startswith("https://") else None
    return f"https://{host}" if host else DEFAULT_PUSH_SUBJECT


def _is_allowed_exit_url(url: str) -> bool:
    """The quick exit must land on a real site: https, or plain http on loopback."""
    parts = urlsplit(url)
    if not parts.netloc or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    host = (
        parts.netloc.rsplit(":", 1)[0]
        if not parts.netloc.startswith("[")
        else (parts.netloc.split("]")[0] + "]")
    )
    return parts.scheme == "http" and host in _LOOPBACK_HOSTS


def parse_push_services(value: str) -> tuple[str, ...]:
    """``HAVEN_PUSH_SERVICES``: origins (``scheme://host[:port]``) push may also go to.

    Plain http only on this computer, which is how the tests reach a fake push
    service; a push service anywhere else is reached over https.
    """
    found: list[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        origin = origin_of(item)
        path = urlsplit(item).path if origin is not None else ""
        if (
            origin is None
            or path not in ("", "/")
            or "?" in item
            or "#" in item
            or (origin.scheme == "http" and origin.host not in _LOOPBACK_HOSTS)
        ):
            raise ValueError(
                "HAVEN_PUSH_SERVICES must be comma-separated origins such as "
                "https://push.example.org (http:// only on this computer, such as "
                f"http://127.0.0.1:8123), without a path; got {item!r}"
            )
        if str(origin) not in found:
            found.append(str(origin))
    return tuple(found)


MAX_RATE_WINDOW = 24 * 60 * 60


def parse_rate(value: str) -> tuple[int, float]:
    """``"60/3600"`` means 60 per 3600 seconds; both parts must be positive."""
    count, slash, seconds = value.strip().partition("/")
    try:
        limit, window = int(count), float(seconds)
    except ValueError:
        limit, window = 0, 0.0
    if not slash or limit <= 0 or not 0 < window < float("inf"):
        raise ValueError(
            f"HAVEN_REQUEST_RATE must be COUNT/SECONDS with both above zero, "
            f"for example {DEFAULT_REQUEST_RATE}; got {value!r}"
        )
    if window > MAX_RATE_WINDOW:
        # The limits' hash key changes every day (security/ratelimit.py).
        raise ValueError(
            f"HAVEN_REQUEST_RATE's window may be {MAX_RATE_WINDOW} seconds (a day) at most; "
            f"got {value!r}"
        )
    return limit, window


def parse_days(name: str, value: str) -> int:
    """A number of days from 1 to MAX_RETENTION_DAYS, in plain digits."""
    text = value.strip()
    # int() would also take "9_0", "+90" and digits of other scripts.
    days = int(text) if re.fullmatch(r"[0-9]{1,5}", text) else 0
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise ValueError(
            f"{name} must be a whole number of days from 1 to {MAX_RETENTION_DAYS}; got {value!r}"
        )
    return days


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    keys_dir: Path  # the inbox, session and VAPID keys: one directory for every instance
    host: str
    port: int
    base_url: str
    exit_url: str
    forwarded_allow_ips: tuple[str, ...]
    log_level: str
    hsts_seconds: int
    database_url: Secret  # a PostgreSQL URL carries a password: keep it out of reprs
    request_rate: tuple[int, float]  # (new requests, per so many seconds)
    push_subject: str  # who runs this server, for push services (RFC 8292 "sub")
    max_connections: int  # uvicorn's limit_concurrency
    push_services: tuple[str, ...]  # origins push may go to besides the public services
    retention_days: int  # closed requests are kept so long after their closing
    audit_retention_days: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        config = Config(environ=dict(os.environ if environ is None else environ))
        exit_url = config("HAVEN_EXIT_URL", cast=str, default=DEFAULT_EXIT_URL)
        if not _is_allowed_exit_url(exit_url):
            raise ValueError(
                "HAVEN_EXIT_URL must be an https:// address (http:// only on this computer)"
            )
        data_dir = Path(config("HAVEN_DATA_DIR", cast=str, default="./data"))
        keys_dir = Path(config("HAVEN_KEYS_DIR", cast=str, default="") or data_dir)
        database_url = Secret(
            config(
                "HAVEN_DATABASE_URL",
                cast=str,
                default=f"sqlite+aiosqlite:///{data_dir / 'haven.sqlite3'}",
            )
        )
        base_url = config("HAVEN_BASE_URL", cast=str, default="").rstrip("/")
        push_subject = config(
            "HAVEN_PUSH_SUBJECT",
            cast=str,
            default=_push_subject_of(base_url),
        )
        if not push_subject.startswith(("mailto:", "https://")):
            raise ValueError(
                "HAVEN_PUSH_SUBJECT must be a mailto: or https:// address where the "
                f"operator can be reached; got {push_subject!r}"
            )
        if push_subject.startswith("https://") and urlsplit(push_subject).port is not None:
            # The VAPID library refuses such a subject, and every push would fail.
            raise ValueError(
                f"HAVEN_PUSH_SUBJECT must not name a port (push services refuse it); "
                f"got {push_subject!r}: use https://host or a mailto: address"
            )
        max_connections = config("HAVEN_MAX_CONNECTIONS", cast=int, default=DEFAULT_MAX_CONNECTIONS)
        if max_connections < 1:
            raise ValueError(f"HAVEN_MAX_CONNECTIONS must be at least 1; got {max_connections}")
        return cls(
            data_dir=data_dir,
            keys_dir=keys_dir,
            host=config("HAVEN_HOST", cast=str, default="127.0.0.1"),
            port=config("HAVEN_PORT", cast=int, default=8000),
            base_url=base_url,
            exit_url=exit_url,
            forwarded_allow_ips=tuple(
                config("HAVEN_FORWARDED_ALLOW_IPS", cast=CommaSeparatedStrings, default="127.0.0.1")
            ),
            log_level=config("HAVEN_LOG_LEVEL", cast=str, default="info").lower(),
            hsts_seconds=config("HAVEN_HSTS_SECONDS", cast=int, default=31536000),
            database_url=database_url,
            request_rate=parse_rate(
                config("HAVEN_REQUEST_RATE", cast=str, default=DEFAULT_REQUEST_RATE)
            ),
            push_subject=push_subject,
            max_connections=max_connections,
            push_services=parse_push_services(config("HAVEN_PUSH_SERVICES", cast=str, default="")),
            retention_days=parse_days(
                "HAVEN_RETENTION_DAYS",
                config("HAVEN_RETENTION_DAYS", cast=str, default=str(DEFAULT_RETENTION_DAYS)),
            ),
            audit_retention_days=parse_days(
                "HAVEN_AUDIT_RETENTION_DAYS",
                config(
                    "HAVEN_AUDIT_RETENTION_DAYS",
                    cast=str,
                    default=str(DEFAULT_AUDIT_RETENTION_DAYS),
                ),
            ),
        )
