"""The store on PostgreSQL: the same migrations as SQLite (tests/gateway/test_store.py), safe
when several replicas run them at once, and outbox claims that never lease a write twice."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.clock import Clock
from gateway.outbox import Outbox, OutboxPolicy, digest
from gateway.store.db import Store
from gateway.store.migrate import downgrade, upgrade
from gateway.store.models import OutboxMessage
from tests.gateway.test_store import TABLES

pytestmark = pytest.mark.scale


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            names: list[str] = await connection.run_sync(
                lambda sync: inspect(sync).get_table_names()
            )
            return set(names)
    finally:
        await engine.dispose()


async def test_migrations_create_every_table_and_revert_to_nothing(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    created = await _tables(empty_database_url)
    await asyncio.to_thread(downgrade, empty_database_url, "base")
    left = await _tables(empty_database_url)

    assert created >= TABLES
    assert left == {"alembic_version"}


async def test_replicas_migrating_at_once_take_turns(empty_database_url: str) -> None:
    # Given three `lkk migrate` started together, as replicas with LKK_MIGRATE_ON_START
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.cli",
            "migrate",
            env={"LKK_DATABASE_URL": empty_database_url, "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]

    # When they finish
    outputs = [await process.communicate() for process in processes]

    # Then each succeeded (the later ones found nothing to do) and the schema is whole
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert await _tables(empty_database_url) >= TABLES


async def test_the_migrated_store_answers_a_ping(database_url: str) -> None:
    store = Store(database_url, pool_size=2, max_overflow=0)
    try:
        await store.ping()
    finally:
        await store.close()

    assert store.is_postgresql


async def _record(outbox: Outbox, subject: str) -> None:
    """A write whose first attempt never finished (the recording request's lease runs)."""
    payload: dict[str, Any] = {"n": subject}
    await outbox.record("test", str(uuid.uuid4()), subject, payload, digest(payload))


async def test_workers_claiming_at_once_never_lease_one_write_twice(database_url: str) -> None:
    # Given 60 due writes about 60 meters, and four workers on stores of their own
    clock = Clock()
    policy = OutboxPolicy(lease=60)
    stores = [Store(database_url) for _ in range(4)]
    workers = [Outbox(store, clock, policy) for store in stores]
    try:
        for n in range(60):
            await _record(workers[0], f"meter-{n}")
        clock.advance(timedelta(seconds=61))  # the recording requests' leases ran out

        # When all four claim at the same moment, twice
        rounds = [await asyncio.gather(*(w.claim(limit=60) for w in workers)) for _ in range(2)]
    finally:
        for store in stores:
            await store.close()

    # Then every write went to exactly one worker, and nothing was claimed again
    first = [entry.id for claimed in rounds[0] for entry in claimed]
    assert len(first) == 60
    assert len(set(first)) == 60
    assert [entry for claimed in rounds[1] for entry in claimed] == []


async def test_a_claim_takes_only_the_oldest_write_of_a_meter(database_url: str) -> None:
    clock = Clock()
    store = Store(database_url)
    outbox = Outbox(store, clock, OutboxPolicy(lease=60))
    try:
        for _ in range(3):
            await _record(outbox, "meter-1")
        clock.advance(timedelta(seconds=61))

        claimed = await outbox.claim()
        oldest = await outbox.pending_of("test", ["meter-1"])
    finally:
        await store.close()

    assert [entry.id for entry in claimed] == [oldest["meter-1"][0].id]


async def test_a_claim_skips_a_write_another_replica_holds_instead_of_waiting(
    database_url: str,
) -> None:
    # Given two due writes, one of them row-locked by another replica's claim in progress
    clock = Clock()
    ours, theirs = Store(database_url), Store(database_url)
    outbox = Outbox(ours, clock, OutboxPolicy(lease=60))
    try:
        await _record(outbox, "meter-1")
        await _record(outbox, "meter-2")
        clock.advance(timedelta(seconds=61))
        async with theirs.session() as other:
            await other.execute(
                select(OutboxMessage.id).where(OutboxMessage.subject == "meter-1").with_for_update()
            )

            # When this replica claims while that lock is held
            claimed = await asyncio.wait_for(outbox.claim(), timeout=5)
    finally:
        await ours.close()
        await theirs.close()

    # Then it takes the other write at once rather than queueing behind the lock
    assert [entry.subject for entry in claimed] == ["meter-2"]
