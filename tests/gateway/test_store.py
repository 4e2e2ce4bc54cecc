"""The store's migrations apply and revert cleanly, and the store answers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, select, text

from gateway.store import db as db_module
from gateway.store.db import Store
from gateway.store.migrate import alembic_config, downgrade, upgrade
from gateway.store.models import AuditEvent, Base

TABLES = set(Base.metadata.tables)
"""Every table of the models: the migrations create them all (on SQLite here and on
PostgreSQL in tests/scale), so the models and the migrations cannot drift apart."""


def _tables(path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_create_every_table_and_revert_to_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "store.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"

    upgrade(url)
    assert _tables(path) == TABLES | {"alembic_version"}

    downgrade(url, "base")
    assert _tables(path) == {"alembic_version"}


async def test_a_migrated_store_answers_a_ping(tmp_path: Path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        await store.migrate()
        await store.ping()
    finally:
        await store.close()


def test_the_migrations_have_one_head() -> None:
    # Branches written side by side must be merged, or the next migration has two parents
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()


# SQLite's transactions of one process take turns (gateway/store/db.py, _Turns)


async def _store(tmp_path: Path) -> Store:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}")
    async with store.connection() as db:
        await db.execute(text("CREATE TABLE written (n INTEGER)"))
    return store


async def test_sqlite_writers_take_turns_in_the_order_they_came(tmp_path: Path) -> None:
    # Each writer holds its transaction across an await, as the app's do. Without the turns
    # the ten overlap and SQLite's lock, polled with growing sleeps, decides who goes next.
    store = await _store(tmp_path)
    inside, most, order = 0, 0, []

    async def write(n: int) -> None:
        nonlocal inside, most
        async with store.connection() as db:
            inside += 1
            most = max(most, inside)
            await db.execute(text("INSERT INTO written VALUES (:n)"), {"n": n})
            await asyncio.sleep(0.005)
            order.append(n)
            inside -= 1

    try:
        tasks = []
        for n in range(10):
            tasks.append(asyncio.create_task(write(n)))
            await asyncio.sleep(0)  # each starts waiting before the next one comes
        await asyncio.gather(*tasks)
        async with store.connection() as db:
            rows = (await db.execute(text("SELECT n FROM written ORDER BY rowid"))).scalars()
            written = list(rows)
    finally:
        await store.close()
    assert most == 1
    assert order == list(range(10))
    assert written == list(range(10))


async def test_a_transaction_inside_another_of_the_same_task_goes_ahead(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        async with asyncio.timeout(2), store.session() as outer:
            await outer.execute(text("SELECT 1"))
            async with store.connection() as inner:  # a read: WAL lets it beside the outer
                assert (await inner.execute(text("SELECT count(*) FROM written"))).scalar() == 0
    finally:
        await store.close()


async def test_a_turn_not_given_in_time_is_not_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A task that holds its turn while it waits for another task's transaction must not
    # hang it: after SQLite's busy timeout the other goes ahead, as it would without turns.
    monkeypatch.setattr(db_module, "SQLITE_BUSY_SECONDS", 0.05)
    store = await _store(tmp_path)

    async def read() -> int:
        async with store.connection() as db:
            return int((await db.execute(text("SELECT count(*) FROM written"))).scalar_one())

    try:
        async with asyncio.timeout(2), store.connection():
            assert await asyncio.create_task(read()) == 0
    finally:
        await store.close()
    assert "went ahead without its turn" in caplog.text


async def test_reads_go_beside_a_writer_and_see_what_was_committed(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        async with asyncio.timeout(2), store.connection() as writer:  # holds the turn
            await writer.execute(text("INSERT INTO written VALUES (1)"))
            async with store.reading() as db:
                assert (await db.execute(text("SELECT count(*) FROM written"))).scalar() == 0
            async with store.reading_session() as session:
                assert (await session.execute(text("SELECT count(*) FROM written"))).scalar() == 0
        async with store.reading() as db:
            assert (await db.execute(text("SELECT count(*) FROM written"))).scalar() == 1
    finally:
        await store.close()


async def test_a_reading_session_refuses_to_lose_a_change(tmp_path: Path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        await store.migrate()
        with pytest.raises(RuntimeError, match="reading session holds changes"):
            async with store.reading_session() as session:
                session.add(AuditEvent(at=datetime.now(UTC), actor="test", action="x", subject="y"))
        async with store.reading_session() as session:
            assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    finally:
        await store.close()
