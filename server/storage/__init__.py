"""Storage: SQLAlchemy Core over aiosqlite (or asyncpg), migrated by Alembic at start."""

from __future__ import annotations

from .database import Database
from .requests import StoredRequest, count_requests, find_request, store_request

__all__ = ["Database", "StoredRequest", "count_requests", "find_request", "store_request"]
