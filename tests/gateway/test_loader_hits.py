"""Values already in this process's memory are answered without a DataLoader batch
(schema/context.py ``PeekingLoader``): a warm pass-through runs no batch at all, and a miss
still joins one batch."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from adapters.cache import Cached, CachePolicy, UpstreamCache
from emulators.host import EmulatorHost
from gateway.identity.viewer_cache import ViewerCache
from gateway.services import Services
from gateway.settings import Settings
from schema.context import PeekingLoader
from tests.gateway.accounts.test_accounts_api import DASHBOARD
from tests.gateway.conftest import settings_for
from tests.gateway.journeys import link, sign_in_demo
from tests.support import graphql

READINGS_PAGE = (
    "query($n: AccountNumber!) { account(number: $n) { meters { id readings(first: 10) "
    "{ totalCount edges { node { date zone value } } } } } }"
)


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    """No kept answers: every request below runs its operation."""
    return settings_for(emulators, tmp_path, response_cache_seconds=0)


class Batches:
    """Wraps a batch function and records each batch's keys."""

    def __init__(self, load: Any) -> None:
        self.load = load
        self.batches: list[list[Any]] = []

    async def __call__(self, keys: list[Any]) -> Any:
        self.batches.append(list(keys))
        return await self.load(keys)


async def test_a_warm_readings_page_runs_no_batch(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a customer with a second account, whose readings page was read once
    headers = await sign_in_demo(client)
    await link(client, headers, "7200000004", "Иванова")
    variables = {"n": "7200000004"}
    first = await graphql(client, READINGS_PAGE, variables, headers=headers)
    assert "errors" not in first, first
    services: Services = app.state.services
    accounts = Batches(services.accounts.numbers_of_users)
    meters = Batches(services.accounts.meters)
    monkeypatch.setattr(services.accounts, "numbers_of_users", accounts)
    monkeypatch.setattr(services.accounts, "meters", meters)

    # When it is read again
    second = await graphql(client, READINGS_PAGE, variables, headers=headers)

    # Then the same answer, with the accounts and meters taken from memory, no batch
    assert second == first
    assert accounts.batches == []
    assert meters.batches == []

    # And once the meters are forgotten, they are loaded by one batch again
    await services.accounts.forget_meters("7200000004")
    third = await graphql(client, READINGS_PAGE, variables, headers=headers)
    assert third == first
    assert meters.batches == [["7200000004"]]
    assert accounts.batches == []


async def test_a_warm_dashboard_runs_no_batch(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a customer with two accounts, whose dashboard was read once
    headers = await sign_in_demo(client)
    await link(client, headers, "7200000004", "Иванова")
    first = await graphql(client, DASHBOARD, headers=headers)
    assert "errors" not in first, first
    services: Services = app.state.services
    batches = {
        name: Batches(getattr(services.accounts, name))
        for name in ("numbers_of_users", "accounts", "balances", "meters")
    }
    for name, batch in batches.items():
        monkeypatch.setattr(services.accounts, name, batch)

    # When it is read again
    second = await graphql(client, DASHBOARD, headers=headers)

    # Then the same answer, every account, balance and meter from memory
    assert second == first
    assert {name: batch.batches for name, batch in batches.items()} == {
        name: [] for name in batches
    }


async def test_a_peeked_value_is_answered_at_once_and_a_miss_joins_one_batch() -> None:
    # Given a loader whose memory knows "a" only
    batches: list[list[str]] = []

    async def load(keys: list[str]) -> list[str]:
        batches.append(keys)
        return [f"{key} loaded" for key in keys]

    loader = PeekingLoader(load, {"a": "a remembered"}.get)

    # When "a" is asked for, then "b" and "c" together
    known = loader.load("a")
    assert isinstance(known, asyncio.Future)
    assert known.done()  # answered already: awaiting it does not yield to the loop
    missing = await asyncio.gather(loader.load("b"), loader.load("c"), loader.load("a"))

    # Then "a" came from memory, and the misses from one batch
    assert await known == "a remembered"
    assert list(missing) == ["b loaded", "c loaded", "a remembered"]
    assert batches == [["b", "c"]]


POLICY = CachePolicy("things", ttl=10, stale_ttl=100)


async def test_the_upstream_cache_peeks_only_when_every_key_is_fresh_in_memory() -> None:
    # Given a memory cache holding "a" (fresh) and "b" (about to expire)
    now = [1_700_000_000.0]
    cache = UpstreamCache(clock=lambda: now[0])

    async def load(keys: list[str]) -> dict[str, str]:
        return {key: key.upper() for key in keys}

    await cache.get_or_load_many(POLICY, ["a"], load)
    now[0] += 5
    await cache.get_or_load_many(POLICY, ["b"], load)
    hits = cache.hits

    # Then "a" is peeked, counted as a hit, as served by the awaited path
    found = cache.peek_many(POLICY, ["a", "a"])
    assert found is not None
    assert found["a"] == Cached("A", found["a"].as_of, stale=False)
    assert cache.hits == hits + 1
    # and a set with an unknown key, or a key past its lifetime, is not peeked nor counted
    assert cache.peek_many(POLICY, ["a", "zzz"]) is None
    now[0] += 6  # "a" is 11 s old now
    assert cache.peek_many(POLICY, ["a", "b"]) is None
    assert cache.hits == hits + 1


async def test_a_backend_outside_this_process_is_never_peeked() -> None:
    class Remote:  # what a Redis backend offers: only awaited calls
        async def get(self, key: str) -> Any:
            raise AssertionError("peek_many must not call the backend")

    cache = UpstreamCache(backend=Remote())
    assert cache.peek_many(POLICY, ["a"]) is None


async def test_the_viewer_cache_peeks_only_while_active() -> None:
    user = uuid.uuid4()

    async def load(users: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
        return {u: ("7200000001",) for u in users}

    remembering, off = ViewerCache(60), ViewerCache(0)
    for cache in (remembering, off):
        assert cache.accounts_in_memory(user) is None
        await cache.accounts_of_users([user], load)
    assert remembering.accounts_in_memory(user) == ("7200000001",)
    assert off.accounts_in_memory(user) is None
