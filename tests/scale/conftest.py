"""Fixtures of the scale tests: a fresh PostgreSQL database and a clean Redis per test.

The services come from the environment — ``LKK_TEST_DATABASE_URL`` (a PostgreSQL server
URL, ``postgresql+asyncpg://user@host:port/postgres``; each test creates and drops a
database of its own there) and ``LKK_TEST_REDIS_URL`` (a Redis whose database in the URL the
tests flush). ``.ci/run`` starts both from the Debian packages (``deploy/test-services.sh``);
on a machine without them these tests are skipped with that reason — except when
``CI=true``, where a missing service fails them: CI must run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from emulators.host import EmulatorHost
from gateway.store.migrate import upgrade
from tests.scale.fleet import Fleet, replica_settings, running_fleet, seed_demo_data
from tests.support import skip_unless_ci

DATABASE_VARIABLE = "LKK_TEST_DATABASE_URL"
REDIS_VARIABLE = "LKK_TEST_REDIS_URL"


@dataclass(frozen=True)
class ScaleServices:
    """Where the PostgreSQL server and the Redis of the tests are."""

    database_server_url: str
    redis_url: str


@pytest.fixture(scope="session")
def scale_services() -> ScaleServices:
    """The services, or a skip (a failure in CI) saying what is missing."""
    missing = [name for name in (DATABASE_VARIABLE, REDIS_VARIABLE) if not os.environ.get(name)]
    problems = []
    if missing:
        problems.append(f"{' and '.join(missing)} not set")
    if importlib.util.find_spec("asyncpg") is None:
        problems.append("asyncpg is not installed (pip install -e '.[dev]')")
    if problems:
        reason = (
            "scale tests need PostgreSQL and Redis: "
            + "; ".join(problems)
            + '. Start both: eval "$(bash deploy/test-services.sh start /tmp/lkk-services)" '
            "(docs/scale-out.md)."
        )
        skip_unless_ci(reason)
    return ScaleServices(os.environ[DATABASE_VARIABLE], os.environ[REDIS_VARIABLE])


@contextlib.asynccontextmanager
async def _new_database(server_url: str) -> AsyncIterator[str]:
    """A database of its own on the server, dropped (connections and all) on exit."""
    server = make_url(server_url)
    name = f"lkk_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def empty_database_url(scale_services: ScaleServices) -> AsyncIterator[str]:
    """A new PostgreSQL database with no tables (the migration tests)."""
    async with _new_database(scale_services.database_server_url) as url:
        yield url


@pytest.fixture
async def database_url(scale_services: ScaleServices) -> AsyncIterator[str]:
    """A new PostgreSQL database for this test only, migrated as `lkk migrate` does."""
    async with _new_database(scale_services.database_server_url) as url:
        await asyncio.to_thread(upgrade, url)
        yield url


@pytest.fixture
async def redis_url(scale_services: ScaleServices) -> str:
    """The tests' Redis, its database flushed before the test."""
    from redis.asyncio import Redis

    client = Redis.from_url(scale_services.redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return scale_services.redis_url


@pytest.fixture
def fleet_settings(emulators: EmulatorHost, database_url: str, redis_url: str) -> dict[str, str]:
    """The ``LKK_*`` variables of every replica (a test module may override this)."""
    return replica_settings(emulators, database_url, redis_url)


@pytest.fixture
async def fleet(fleet_settings: dict[str, str], tmp_path: Path) -> AsyncIterator[Fleet]:
    """Three replicas on this test's database and Redis (logs in ``tmp_path``)."""
    await seed_demo_data(fleet_settings["LKK_DATABASE_URL"])
    async with running_fleet(tmp_path, fleet_settings) as running:
        yield running
