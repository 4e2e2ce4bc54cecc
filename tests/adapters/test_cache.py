"""Per-kind caching with stale-if-error and single-flight loads."""

from __future__ import annotations

import asyncio

import pytest

from adapters.cache import CachePolicy, UpstreamCache
from adapters.errors import UpstreamRejected, UpstreamUnavailable

POLICY = CachePolicy("things", ttl=10, stale_ttl=100)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.error: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        if self.error is not None:
            raise self.error
        return f"value {self.calls}"


async def test_a_fresh_value_is_served_from_cache_without_a_call() -> None:
    cache, load = UpstreamCache(clock=Clock()), Loader()

    first = await cache.get_or_load(POLICY, "k", load)
    second = await cache.get_or_load(POLICY, "k", load)

    assert (first.value, second.value, load.calls) == ("value 1", "value 1", 1)
    assert not second.stale


async def test_an_expired_value_is_loaded_again() -> None:
    clock = Clock()
    cache, load = UpstreamCache(clock=clock), Loader()
    await cache.get_or_load(POLICY, "k", load)

    clock.now += 11
    again = await cache.get_or_load(POLICY, "k", load)

    assert (again.value, again.stale, load.calls) == ("value 2", False, 2)


async def test_an_expired_value_stands_in_marked_stale_while_the_upstream_is_down() -> None:
    clock = Clock()
    cache, load = UpstreamCache(clock=clock), Loader()
    fresh = await cache.get_or_load(POLICY, "k", load)

    clock.now += 50
    load.error = UpstreamUnavailable("billing", "down")
    stale = await cache.get_or_load(POLICY, "k", load)

    assert stale.value == "value 1"
    assert stale.stale
    assert stale.as_of == fresh.as_of
    assert cache.stale_served == 1


async def test_without_a_cached_value_the_outage_is_raised() -> None:
    cache, load = UpstreamCache(clock=Clock()), Loader()
    load.error = UpstreamUnavailable("billing", "down")

    with pytest.raises(UpstreamUnavailable):
        await cache.get_or_load(POLICY, "k", load)


async def test_a_business_refusal_is_never_masked_by_stale_data() -> None:
    clock = Clock()
    cache, load = UpstreamCache(clock=clock), Loader()
    await cache.get_or_load(POLICY, "k", load)
    clock.now += 50
    load.error = UpstreamRejected("billing", "ACCOUNT_NOT_FOUND", "нет")

    with pytest.raises(UpstreamRejected):
        await cache.get_or_load(POLICY, "k", load)


async def test_concurrent_misses_of_one_key_make_one_upstream_call() -> None:
    cache, load = UpstreamCache(clock=Clock()), Loader()

    results = await asyncio.gather(*(cache.get_or_load(POLICY, "k", load) for _ in range(20)))

    assert load.calls == 1
    assert {r.value for r in results} == {"value 1"}


async def test_invalidation_forces_a_new_load() -> None:
    cache, load = UpstreamCache(clock=Clock()), Loader()
    await cache.get_or_load(POLICY, "k", load)

    await cache.invalidate(POLICY, "k")
    again = await cache.get_or_load(POLICY, "k", load)

    assert again.value == "value 2"
