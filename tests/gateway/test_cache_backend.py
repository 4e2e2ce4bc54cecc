"""The shared cache's backend (gateway/cache_backend.py): signed, allow-listed pickles,
failures served as misses, and a namespace that follows the shape of the cached types.

None of these needs Redis: the serializer and the fail-safe wrapper are exercised over
aiocache's memory backend (tests/scale/ runs them against a real Redis).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiocache import SimpleMemoryCache
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.applications import Starlette

import adapters.metering.models as metering_models
from adapters.cache import METERS, UpstreamCache, _Entry
from emulators.host import EmulatorHost
from gateway.cache_backend import (
    CacheEntryRejected,
    FailSafeCache,
    SignedPickleSerializer,
    cache_namespace,
)
from gateway.services import Services
from tests.gateway.journeys import sign_in_demo
from tests.support import graphql

DASHBOARD = """
query($number: AccountNumber!) {
  account(number: $number) {
    address
    debts { total stale }
    meters { id lastReadings { zone value date } stale }
    statements(first: 2) { edges { node { period closingBalance receiptUrl stale } } }
    payments(first: 5) { edges { node { id amount status } } }
    paymentGroups { group suppliers stale }
  }
}"""


class _Exploit:
    """What an attacker able to write into the cache would store: a pickle that runs a
    command when loaded."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo owned",))


class _Broken:
    """A backend whose Redis is gone."""

    async def get(self, key: str, default: Any = None) -> Any:
        raise RedisConnectionError("Connection refused")

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        raise RedisConnectionError("Connection refused")

    async def delete(self, key: str) -> int:
        raise TimeoutError


class _Recording(SimpleMemoryCache):  # type: ignore[misc]
    """aiocache's memory backend that remembers which keys were written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.written: set[str] = set()

    async def set(self, key: str, value: Any, ttl: Any = None, **kwargs: Any) -> Any:
        self.written.add(key)
        return await super().set(key, value, ttl=ttl, **kwargs)


def test_a_cached_record_comes_back_equal() -> None:
    serializer = SignedPickleSerializer("secret")
    reading = metering_models.ZoneReading(
        metering_models.TariffZone.DAY, Decimal("46402.3"), date(2026, 10, 22)
    )
    entry = _Entry([reading], 1_700_000_000.5)

    loaded = serializer.loads(serializer.dumps(entry))

    assert loaded == entry
    assert loaded.value[0].zone is metering_models.TariffZone.DAY


def test_an_entry_signed_with_another_key_is_refused() -> None:
    ours = SignedPickleSerializer("secret")
    theirs = SignedPickleSerializer("another secret")

    with pytest.raises(CacheEntryRejected):
        ours.loads(theirs.dumps({"balance": Decimal("1.00")}))
    with pytest.raises(CacheEntryRejected):
        ours.loads(pickle.dumps({"balance": Decimal("1.00")}))


def test_a_signed_pickle_of_a_callable_is_still_not_run() -> None:
    serializer = SignedPickleSerializer("leaked secret")

    with pytest.raises(CacheEntryRejected, match="posix.system|os.system"):
        serializer.loads(serializer.dumps(_Exploit()))


async def test_a_failing_backend_is_a_miss_and_every_failure_is_counted() -> None:
    cache = FailSafeCache(_Broken())

    got = await cache.get("k")
    written = await cache.set("k", 1, ttl=5)
    deleted = await cache.delete("k")

    assert (got, written, deleted) == (None, False, False)
    assert cache.errors == 3


async def test_the_upstream_cache_loads_again_when_the_backend_fails() -> None:
    cache = UpstreamCache(FailSafeCache(_Broken()))
    calls = 0

    async def load() -> str:
        nonlocal calls
        calls += 1
        return "value"

    first = await cache.get_or_load(METERS, "100001", load)
    second = await cache.get_or_load(METERS, "100001", load)

    assert (first.value, second.value, calls) == ("value", "value", 2)
    assert isinstance(cache.backend, FailSafeCache)
    assert cache.backend.errors == 4  # two failed reads, two failed writes


def test_the_namespace_changes_when_a_cached_type_changes_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = cache_namespace()

    @dataclasses.dataclass(frozen=True)
    class Extra:
        value: int

    Extra.__module__ = "adapters.metering.models"
    monkeypatch.setattr(metering_models, "Extra", Extra, raising=False)

    assert cache_namespace() != before
    assert before.startswith("lkk:")
    assert len(before) == len("lkk:") + 8


async def test_every_cached_read_survives_the_serializer(
    client: httpx.AsyncClient, app: Starlette, emulators: EmulatorHost
) -> None:
    # Given the gateway's cache behind the serializer Redis would use
    services: Services = app.state.services
    recording = _Recording(serializer=SignedPickleSerializer("test secret"))
    backend = FailSafeCache(recording)
    services.cache.backend = backend
    headers = await sign_in_demo(client)

    # When the dashboard, a receipt and the payment groups are read twice
    async def read() -> dict[str, Any]:
        body = await graphql(client, DASHBOARD, {"number": "7200000001"}, headers=headers)
        assert "errors" not in body, body
        account: dict[str, Any] = body["data"]["account"]
        return account

    first = await read()
    url = next(
        e["node"]["receiptUrl"] for e in first["statements"]["edges"] if e["node"]["receiptUrl"]
    )
    assert (await client.get(url, headers=headers)).status_code == 200
    for runtime in emulators.runtimes.values():
        runtime.calls.reset()
    second = await read()
    assert (await client.get(url, headers=headers)).status_code == 200

    # Then every kind of value went through it and came back, with no upstream call
    kinds = {key.split(":")[1] for key in recording.written}
    assert {
        "accounts",
        "balances",
        "meters",
        "statements",
        "payments",
        "receipts",
        "payment-suppliers",
    } <= kinds
    assert backend.errors == 0
    assert second == first
    assert emulators.runtimes["billing"].calls.snapshot() == {}
    assert emulators.runtimes["metering"].calls.snapshot() == {}


def test_a_datetime_with_a_zone_survives() -> None:
    serializer = SignedPickleSerializer("secret")
    moment = datetime(2026, 11, 25, 16, 56, 13, tzinfo=UTC)

    assert serializer.loads(serializer.dumps(moment)) == moment
