"""Sessions and linked accounts remembered for a few seconds (gateway/identity/viewer_cache.py):
a warm dashboard reads nothing from the store, and every change is seen on the next request.
Across replicas over Redis: tests/scale/test_identity_across_replicas.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event
from starlette.applications import Starlette

from gateway.identity.sessions import LiveSession, Viewer
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


# --- bursts: one store read for requests that need the same entry at once ------------------


class SlowSessionRead:
    """A store read of a session that waits, once under way, until released; each read
    finds a new :class:`LiveSession` (so who got which read is visible), or fails."""

    def __init__(self, user: uuid.UUID, *, fail_first: bool = False) -> None:
        self.user = user
        self.reading = asyncio.Event()
        self.release = asyncio.Event()
        self.reads = 0
        self.fail_first = fail_first

    async def load(self) -> tuple[LiveSession, uuid.UUID]:
        self.reads += 1
        number = self.reads
        self.reading.set()
        await self.release.wait()
        if self.fail_first and number == 1:
            raise ConnectionError("the store went away")
        now = datetime.now(UTC)
        viewer = Viewer(self.user, f"login-{number}", "7200000001", uuid.uuid4(), "7200000001")
        return LiveSession(viewer, now, now + timedelta(days=1)), self.user


def usable(_: LiveSession) -> bool:
    return True


async def burst(cache: ViewerCache, read: SlowSessionRead, count: int) -> list[Any]:
    """``count`` requests authenticating the same token at once, the first one's read held
    until all of them are waiting."""
    tasks = [asyncio.create_task(cache.session("digest", read.load, usable)) for _ in range(count)]
    await read.reading.wait()
    await asyncio.sleep(0)  # the others reach the cache while the first read is held
    read.release.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_session_needed_by_many_requests_at_once_is_read_once() -> None:
    # Given a cache without the session (it ran out)
    cache, read = ViewerCache(60), SlowSessionRead(uuid.uuid4())

    # When ten requests with the same token arrive while it is being read
    found = await burst(cache, read, 10)

    # Then the store was read once and every request has what it found
    assert read.reads == 1
    assert {session.viewer.login for session in found} == {"login-1"}
    assert (cache.misses, cache.shared) == (1, 9)


async def test_a_read_that_may_not_be_kept_is_not_shared() -> None:
    # Given a session being read for ten requests at once
    user = uuid.uuid4()
    cache, read = ViewerCache(60), SlowSessionRead(user)
    tasks = [asyncio.create_task(cache.session("digest", read.load, usable)) for _ in range(10)]
    await read.reading.wait()
    await asyncio.sleep(0)

    # When its user changes (a sign-out elsewhere) before the read ends
    await cache.changed(user)
    read.release.set()
    found = await asyncio.gather(*tasks)

    # Then the nine waiting were not given the read that began before the change
    logins = [session.viewer.login for session in found if session is not None]
    assert len(logins) == 10
    assert logins.count("login-1") == 1
    assert read.reads == 10
    assert cache.shared == 0


async def test_a_failed_read_lets_the_waiting_requests_read_themselves() -> None:
    # Given a first store read that fails while nine more requests wait for it
    cache, read = ViewerCache(60), SlowSessionRead(uuid.uuid4(), fail_first=True)

    # When they all arrive at once
    found = await burst(cache, read, 10)

    # Then only the first request has the error; the others read the session
    assert isinstance(found[0], ConnectionError)
    assert all(isinstance(session, LiveSession) for session in found[1:])
    assert read.reads > 1


async def test_a_cancelled_request_does_not_stop_the_read_the_others_wait_for() -> None:
    # Given a session being read for three requests at once
    cache, read = ViewerCache(60), SlowSessionRead(uuid.uuid4())
    tasks = [asyncio.create_task(cache.session("digest", read.load, usable)) for _ in range(3)]
    await read.reading.wait()
    await asyncio.sleep(0)

    # When one of the waiting requests is cancelled (its client went away)
    tasks[1].cancel()
    read.release.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)

    # Then the others have the one read's session
    assert isinstance(done[1], asyncio.CancelledError)
    assert done[0] == done[2]
    assert read.reads == 1


async def test_one_users_accounts_needed_at_once_are_read_once() -> None:
    # Given a cache without a user's accounts, and their read held once under way
    cache, user, read = ViewerCache(60), uuid.uuid4(), SlowAccountsRead()
    tasks = [asyncio.create_task(cache.accounts_of_users([user], read.load)) for _ in range(5)]
    await read.reading.wait()
    await asyncio.sleep(0)

    # When it ends
    read.release.set()
    found = await asyncio.gather(*tasks)

    # Then it was the one read for all five
    assert found == [[("7200000001",)]] * 5
    assert read.reads == 1
    assert cache.shared == 4


async def test_a_burst_after_the_session_ran_out_reads_it_from_the_store_once(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # Given a customer whose session and accounts were remembered and then ran out
    headers = await sign_in_demo(client)
    assert "errors" not in await graphql(client, DASHBOARD, headers=headers)
    viewers = app.state.services.responses.viewers
    viewers.clear()

    # When the app sends ten requests at once
    with store_statements(app) as statements:
        answers = await asyncio.gather(*(graphql(client, ME, headers=headers) for _ in range(10)))

    # Then the session and the accounts were each read from the store once
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["data"]["me"]["login"] == "7200000001"
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len([s for s in reads if "FROM sessions" in s]) == 1, reads
    assert len(reads) == 2, reads


async def test_a_change_of_answers_only_keeps_sessions_and_accounts() -> None:
    # Given a cache holding a user's session, accounts and an answer
    cache = ViewerCache(ttl=60)
    user = uuid.uuid4()
    now = datetime.now(UTC)
    viewer = Viewer(user, "7200000001", "7200000001", uuid.uuid4(), "7200000001")
    session = LiveSession(viewer, now, now + timedelta(days=1))
    cache.sessions.put("digest", session, user, time.monotonic() + 60)
    cache.accounts.put(user, ("7200000001",), user, time.monotonic() + 60)
    began = cache.tick
    cache.responses.put("answer", {"data": 1}, user, time.monotonic() + 60)

    # When only their data changes
    await cache.answers_changed(user)

    # Then the answer is gone, the session and accounts are not, and an answer worked out
    # before the change is not kept
    moment = time.monotonic()
    assert cache.response("answer") is None
    assert cache.sessions.get("digest", moment) is session
    assert cache.accounts.get(user, moment) == ("7200000001",)
    assert not cache.keep_response("late", {}, user, until=moment + 60, began=began, size=1)


def test_replicas_tell_a_change_of_answers_only_from_a_full_one() -> None:
    # Given a replica's bus
    bus = RedisInvalidationBus("redis://127.0.0.1:1")
    full: list[uuid.UUID] = []
    answers: list[uuid.UUID] = []
    bus.on_change, bus.on_answers_change = full.append, answers.append
    user = uuid.uuid4()

    # When it hears each kind of message
    bus._dispatch(str(user).encode())
    bus._dispatch(user.urn.encode())
    bus._dispatch(b"not a user")

    # Then each goes where it belongs, and a replica of an earlier release, which reads every
    # message with uuid.UUID(), takes the answers-only form for a full change of the same user
    assert full == [user]
    assert answers == [user]
    assert uuid.UUID(user.urn) == user
