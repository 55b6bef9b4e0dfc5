"""Alembic's environment: Haven runs migrations itself, on a connection it hands over.

:meth:`server.storage.Database.start` puts its connection in
``config.attributes["connection"]``; there is no alembic.ini and no offline mode.
"""

from __future__ import annotations

from alembic import context

from server.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Haven applies its migrations at start; run `haven serve`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite changes most tables by copying them; Alembic's batch mode does that.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
