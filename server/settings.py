"""Every environment variable Haven reads, read once, with a cast and a default.

Nothing else in the package touches ``os.environ``: tests build a
:class:`Settings` from a plain mapping instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.config import Config
from starlette.datastructures import CommaSeparatedStrings

DEFAULT_EXIT_URL = "https://www.meteo.be/"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


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


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str
    port: int
    base_url: str
    exit_url: str
    forwarded_allow_ips: tuple[str, ...]
    log_level: str
    hsts_seconds: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        config = Config(environ=dict(os.environ if environ is None else environ))
        exit_url = config("HAVEN_EXIT_URL", cast=str, default=DEFAULT_EXIT_URL)
        if not _is_allowed_exit_url(exit_url):
            raise ValueError(
                "HAVEN_EXIT_URL must be an https:// address (http:// only on this computer)"
            )
        return cls(
            data_dir=Path(config("HAVEN_DATA_DIR", cast=str, default="./data")),
            host=config("HAVEN_HOST", cast=str, default="127.0.0.1"),
            port=config("HAVEN_PORT", cast=int, default=8000),
            base_url=config("HAVEN_BASE_URL", cast=str, default="").rstrip("/"),
            exit_url=exit_url,
            forwarded_allow_ips=tuple(
                config("HAVEN_FORWARDED_ALLOW_IPS", cast=CommaSeparatedStrings, default="127.0.0.1")
            ),
            log_level=config("HAVEN_LOG_LEVEL", cast=str, default="info").lower(),
            hsts_seconds=config("HAVEN_HSTS_SECONDS", cast=int, default=31536000),
        )
