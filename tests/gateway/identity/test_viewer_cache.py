"""Sessions and linked accounts remembered for a few seconds (gateway/identity/viewer_cache.py):
a warm dashboard reads nothing from the store, and every change is seen on the next request.
Across replicas over Redis: tests/scale/test_identity_across_replicas.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event
from starlette.applications import Starlette

from gateway.identity.viewer_cache import RedisInvalidationBus, ViewerCache
from gateway.services import Services
from tests.gateway.accounts.test_accounts_api import DASHBOARD, SELECT, UNLINK
from tests.gateway.journeys import link, sign_in_demo
from tests.support import graphql

ME = "query { me { login currentAccount { number } accounts { number } } }"


@contextmanager
def store_statements(app: Starlette) -> Iterator[list[str]]:
    """The SQL statements the store runs inside the block."""
    services: Services = app.state.services
    engine = services.store.engine.sync_engine
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_warm_dashboard_reads_nothing_from_the_store(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # Given a signed-in customer whose dashboard was read once
    headers = await sign_in_demo(client)
    first = await graphql(client, DASHBOARD, headers=headers)
    assert "errors" not in first, first

    # When it is read again at once
    with store_statements(app) as statements:
        second = await graphql(client, DASHBOARD, headers=headers)

    # Then the session and the linked accounts came from memory
    assert second == first
    assert statements == []


async def test_sign_out_ends_a_remembered_session_at_once(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)
    assert (await graphql(client, ME, headers=headers))["data"]["me"] is not None

    out = await graphql(client, "mutation { signOut { signedOut } }", headers=headers)
    assert out["data"]["signOut"]["signedOut"] is True

    assert (await graphql(client, ME, headers=headers))["data"]["me"] is None


async def test_linking_unlinking_and_switching_are_seen_by_the_next_request(
    client: httpx.AsyncClient,
) -> None:
    # Given a customer whose account list is remembered
    headers = await sign_in_demo(client)
    before = await graphql(client, ME, headers=headers)
    assert [a["number"] for a in before["data"]["me"]["accounts"]] == ["7200000001"]

    # When they link a second account, switch to it, then unlink it
    await link(client, headers, "7200000004", "Иванова")
    linked = await graphql(client, ME, headers=headers)
    selected = await graphql(client, SELECT, {"number": "7200000004"}, headers=headers)
    switched = await graphql(client, ME, headers=headers)
    unlinked = await graphql(client, UNLINK, {"number": "7200000004"}, headers=headers)
    after = await graphql(client, ME, headers=headers)

    # Then each answer shows the change just made
    assert [a["number"] for a in linked["data"]["me"]["accounts"]] == [
        "7200000001",
        "7200000004",
    ]
    assert "errors" not in selected, selected
    assert switched["data"]["me"]["currentAccount"] == {"number": "7200000004"}
    assert "errors" not in unlinked, unlinked
    assert [a["number"] for a in after["data"]["me"]["accounts"]] == ["7200000001"]
    assert after["data"]["me"]["currentAccount"] == {"number": "7200000001"}


class SlowAccountsRead:
    """A store read of linked accounts that waits, once under way, until released."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.release = asyncio.Event()
        self.reads = 0

    async def load(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
        self.reads += 1
        self.reading.set()
        await self.release.wait()
        return {user_id: ("7200000001",) for user_id in user_ids}

    async def during(self, cache: ViewerCache, user: uuid.UUID, changed: uuid.UUID) -> None:
        """Read ``user``'s accounts while ``changed`` changes; then read them again."""
        slow = asyncio.create_task(cache.accounts_of_users([user], self.load))
        await self.reading.wait()
        await cache.changed(changed)
        self.release.set()
        assert await slow == [("7200000001",)]
        await cache.accounts_of_users([user], self.load)


async def test_a_read_that_began_before_a_change_is_not_remembered() -> None:
    # Given a cache and a slow store read of a user's accounts
    cache, user, read = ViewerCache(60), uuid.uuid4(), SlowAccountsRead()

    # When the user changes while the read is under way, and the accounts are read again
    await read.during(cache, user, changed=user)

    # Then what the first read found was not kept: the store was read twice
    assert read.reads == 2


async def test_another_users_change_does_not_stop_a_read_from_being_remembered() -> None:
    # Given a cache and a slow store read of a user's accounts
    cache, user, read = ViewerCache(60), uuid.uuid4(), SlowAccountsRead()

    # When another user changes meanwhile, and the accounts are read again
    await read.during(cache, user, changed=uuid.uuid4())

    # Then the first read was remembered: the store was read once
    assert read.reads == 1


async def test_without_its_invalidation_channel_the_cache_is_not_used() -> None:
    # Given a cache whose Redis cannot be reached (nothing listens on port 9)
    bus = RedisInvalidationBus("redis://127.0.0.1:9/0", connect_wait=0.2)
    cache = ViewerCache(60, bus)
    await cache.start()
    reads = 0

    async def load(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
        nonlocal reads
        reads += 1
        return {user_id: ("7200000001",) for user_id in user_ids}

    # When the same user is read twice
    try:
        user = uuid.uuid4()
        await cache.accounts_of_users([user], load)
        await cache.accounts_of_users([user], load)
    finally:
        await cache.close()

    # Then both reads went to the store: a sign-out elsewhere could not reach this process
    assert not cache.active
    assert reads == 2


def test_kept_answers_stay_within_their_bytes() -> None:
    # Given a cache that may hold 100 bytes of answers
    cache = ViewerCache(60)
    cache.responses.max_bytes = 100
    user, other = uuid.uuid4(), uuid.uuid4()
    until = time.monotonic() + 60

    def keep(key: str, owner: uuid.UUID) -> bool:
        return cache.keep_response(key, key, owner, until=until, began=cache.tick, size=40)

    # When a third answer of 40 bytes comes after two
    assert [keep("a", user), keep("b", other), keep("c", user)] == [True, True, True]

    # Then the map was emptied to make room, and counts only what it holds
    assert [cache.response(k) for k in ("a", "b", "c")] == [None, None, "c"]
    assert cache.responses.bytes == 40

    # And forgetting a user gives their bytes back
    cache._forget(user)
    assert cache.responses.bytes == 0
