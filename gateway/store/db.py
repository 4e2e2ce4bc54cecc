"""The store's engine and sessions, for SQLite (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def prepare_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file, so the first start needs no set-up."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class Store:
    """One engine and session factory for the life of the app."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.is_postgresql = make_url(url).get_backend_name() == "postgresql"
        prepare_sqlite_folder(url)
        options: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
        if self.is_postgresql:
            # Each replica holds at most pool_size + max_overflow connections: size
            # PostgreSQL's max_connections for every replica and `lkk` command (scale-out.md).
            options.update(
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_recycle=1800,
                connect_args={"server_settings": {"application_name": "lkk-gateway"}},
            )
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside a transaction, committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a transaction, for Core statements (no ORM session to set
        up): committed on success, rolled back on error."""
        async with self.engine.begin() as connection:
            yield connection

    async def ping(self) -> None:
        """One round trip to the database (readiness)."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic runs in a worker thread)."""
        from gateway.store.migrate import upgrade

        await asyncio.to_thread(upgrade, self.url)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
