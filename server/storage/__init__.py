"""Storage: SQLAlchemy Core over aiosqlite (or asyncpg), migrated by Alembic at start."""

from __future__ import annotations

from .database import Database
from .queries import count_requests, find_request, store_request
from .records import StoredRequest

__all__ = ["Database", "StoredRequest", "count_requests", "find_request", "store_request"]
