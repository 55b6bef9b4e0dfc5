"""Where the files that ship with Haven live.

In a wheel they are copied into ``server/_bundle/``; in a source checkout
(or an editable install) they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _root() -> Path:
    bundled = _PACKAGE / "_bundle"
    return bundled if bundled.is_dir() else _PACKAGE.parent


ROOT = _root()
PWA_DIR = ROOT / "pwa"
SERVICE_WORKER_DIR = ROOT / "service_worker"
CONTENT_DIR = ROOT / "content"
LOCALES_DIR = ROOT / "locales"
