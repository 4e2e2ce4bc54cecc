"""The store's engine and sessions, for SQLite (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
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

logger = logging.getLogger(__name__)

SQLITE_BUSY_SECONDS = 5.0
"""How long SQLite waits for its write lock (``busy_timeout``), and how long a transaction
waits for its turn in the process's queue before it goes ahead anyway (:class:`_Turns`)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


def prepare_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file, so the first start needs no set-up."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class _Turns:
    """SQLite's transactions of this process, one at a time and first come, first served.

    SQLite has one write lock, and a writer that finds it taken polls for it with growing
    sleeps (up to 100 ms each): under ten concurrent submissions a few writers kept losing
    the lock to newer ones and waited over a second (docs/performance.md). Waiting here,
    in order, before the transaction starts, takes SQLite's polling out of the picture for
    the transactions of one process. Re-entrant for the task that holds the turn (a
    transaction opened inside another one of the same task goes ahead, as it did before).
    A turn not given within ``SQLITE_BUSY_SECONDS`` is not waited for any longer: the
    transaction goes ahead and SQLite's own lock decides, as without the queue, so a task
    that holds a turn while waiting for another task's transaction slows that one down but
    cannot hang it.
    """

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holder: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            yield
            return
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a lock serves one loop
            self._lock, self._loop = asyncio.Lock(), loop
        lock = self._lock
        started = time.monotonic()
        given = True
        try:
            async with asyncio.timeout(SQLITE_BUSY_SECONDS):
                await lock.acquire()
        except TimeoutError:
            given = False
            logger.warning(
                "store transaction went ahead without its turn after %.1f s",
                time.monotonic() - started,
            )
        if not given:  # (outside the handler: the transaction's errors are not "during" it)
            yield
            return
        self._holder = task
        try:
            yield
        finally:
            self._holder = None
            lock.release()


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
        # PostgreSQL has row locks and no polling for them: its transactions take no turns
        self._turn: Callable[[], AbstractAsyncContextManager[None]] = (
            _Turns().turn if self.is_sqlite else nullcontext
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside a transaction, committed on success, rolled back on error."""
        async with self._turn(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a transaction, for Core statements (no ORM session to set
        up): committed on success, rolled back on error."""
        async with self._turn(), self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for SELECTs only: it takes no turn, since SQLite's WAL lets readers
        go beside the writer (each statement reads what was committed when it began), and
        anything else is rolled back when it closes. For reads on a customer's request (a
        session, linked accounts, an outbox row) that must not queue behind writes."""
        async with self.engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def reading_session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session for reads only, taking no turn (:meth:`reading`). A change made
        through it would be lost when it closes, so one raises :class:`RuntimeError`."""
        async with self.sessions() as session:
            yield session
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a reading session holds changes: use Store.session()")

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
