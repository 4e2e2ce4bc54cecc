"""What the outbox writes to its table as a write is recorded, delivered, rejected, retried
and dead-lettered (gateway/outbox.py runs these as Core statements built once): the rows the
worker, the metrics and an operator read. On PostgreSQL the same statements run in
tests/scale (test_postgres_store.py, test_readings_across_replicas.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from adapters.errors import UpstreamRejected, UpstreamUnavailable
from gateway.clock import Clock
from gateway.outbox import Entry, Outbox, OutboxPolicy, OutboxState
from gateway.store.db import Store

PAYLOAD = {"meter": "100006", "values": {"SINGLE": "15700"}}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}")
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()


class Upstream:
    """A handler answering as it is told to."""

    def __init__(self) -> None:
        self.answer: Exception | dict[str, Any] = {"registered_at": "2026-12-02T10:00:00+00:00"}

    async def __call__(self, payload: Mapping[str, Any], dedup_key: str) -> dict[str, Any]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def outbox_of(store: Store, upstream: Upstream, max_attempts: int = 3) -> Outbox:
    outbox = Outbox(store, Clock(), OutboxPolicy(max_attempts=max_attempts, backoff=0.01))
    outbox.register("readings", upstream)
    return outbox


async def row_of(store: Store, entry: Entry) -> dict[str, Any]:
    async with store.connection() as db:
        found = await db.execute(
            text(
                "SELECT state, attempts, lease_until IS NULL AS unleased, last_error,"
                " result, result IS NULL AS no_result, finished_at IS NULL AS open,"
                " payload, user_id FROM outbox WHERE id = :id"
            ),
            {"id": entry.id.hex},
        )
        return dict(found.mappings().one())


async def record(outbox: Outbox, key: str = "k-1") -> Entry:
    entry, new = await outbox.record("readings", key, "100006", PAYLOAD, "digest", uuid.UUID(int=7))
    assert new
    return entry


async def test_a_recorded_write_is_pending_leased_and_has_no_result(store: Store) -> None:
    outbox = outbox_of(store, Upstream())

    entry = await record(outbox)

    row = await row_of(store, entry)
    assert (row["state"], row["attempts"], row["unleased"]) == ("pending", 0, 0)
    assert (row["no_result"], row["open"], row["last_error"]) == (1, 1, "")
    assert row["user_id"] == uuid.UUID(int=7).hex
    assert await outbox.get("k-1") == entry


async def test_the_same_key_returns_the_write_already_recorded(store: Store) -> None:
    outbox = outbox_of(store, Upstream())
    first = await record(outbox)

    again, new = await outbox.record("readings", "k-1", "100006", {"other": 1}, "other", None)

    assert not new
    assert again == first


async def test_a_delivered_write_keeps_the_upstreams_answer(store: Store) -> None:
    outbox = outbox_of(store, Upstream())
    entry = await record(outbox)

    settled = await outbox.deliver(entry)

    row = await row_of(store, entry)
    assert settled.state is OutboxState.DELIVERED
    assert settled.result == {"registered_at": "2026-12-02T10:00:00+00:00"}
    assert (row["state"], row["attempts"], row["unleased"], row["open"]) == (
        "delivered",
        1,
        1,
        0,
    )
    assert settled == await outbox.get("k-1")


async def test_a_rejected_write_keeps_the_refusal(store: Store) -> None:
    upstream = Upstream()
    upstream.answer = UpstreamRejected("metering", "VALUE_TOO_LOW", "меньше прежних")
    outbox = outbox_of(store, upstream)
    entry = await record(outbox)

    settled = await outbox.deliver(entry)

    row = await row_of(store, entry)
    assert settled.state is OutboxState.REJECTED
    assert settled.result == {"code": "VALUE_TOO_LOW", "refusal": "UpstreamRejected"}
    assert settled.last_error == "меньше прежних"
    assert (row["state"], row["attempts"], row["open"]) == ("rejected", 1, 0)


async def test_a_failed_attempt_is_retried_then_dead_lettered(store: Store) -> None:
    upstream = Upstream()
    upstream.answer = UpstreamUnavailable("metering", "down")
    outbox = outbox_of(store, upstream, max_attempts=2)
    entry = await record(outbox)

    retried = await outbox.deliver(entry)
    first = await row_of(store, entry)
    dead = await outbox.deliver(retried)
    last = await row_of(store, entry)

    assert retried.state is OutboxState.PENDING
    assert (first["state"], first["attempts"], first["unleased"], first["open"]) == (
        "pending",
        1,
        1,
        1,
    )
    assert first["no_result"] == 1  # SQL NULL, not JSON null
    assert "UpstreamUnavailable" in first["last_error"]
    assert dead.state is OutboxState.DEAD
    assert (last["state"], last["attempts"], last["open"], last["no_result"]) == ("dead", 2, 0, 1)
