"""The store's migrations apply and revert cleanly, and the store answers."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from gateway.store.db import Store
from gateway.store.migrate import alembic_config, downgrade, upgrade
from gateway.store.models import Base

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
