"""Batched loads share their in-flight keys: an expiry under load is one upstream call."""

from __future__ import annotations

import asyncio

from adapters.cache import Cached, CachePolicy, UpstreamCache
from adapters.errors import UpstreamUnavailable

POLICY = CachePolicy("things", ttl=10, stale_ttl=100)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class BatchLoader:
    """Counts batches and the keys asked for; answers every key but ``unknown``."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.error: Exception | None = None

    async def __call__(self, keys: list[str]) -> dict[str, str]:
        self.batches.append(list(keys))
        batch = len(self.batches)
        await asyncio.sleep(0.01)
        if self.error is not None:
            raise self.error
        return {key: f"{key} #{batch}" for key in keys if key != "unknown"}


async def test_concurrent_batches_load_each_missing_key_once() -> None:
    cache, load = UpstreamCache(clock=Clock()), BatchLoader()

    results = await asyncio.gather(
        *(cache.get_or_load_many(POLICY, ["a", "b"], load) for _ in range(20)),
        cache.get_or_load_many(POLICY, ["b", "c", "unknown"], load),
    )

    assert load.batches == [["a", "b"], ["c", "unknown"]]
    assert {str(r["a"].value) for r in results[:20] if isinstance(r["a"], Cached)} == {"a #1"}
    last = results[20]
    assert isinstance(last["b"], Cached)
    assert last["b"].value == "b #1"
    assert last["unknown"] is None


async def test_callers_sharing_a_failed_batch_each_get_their_stale_value() -> None:
    clock = Clock()
    cache, load = UpstreamCache(clock=clock), BatchLoader()
    await cache.get_or_load_many(POLICY, ["a"], load)
    clock.now += 11
    load.error = UpstreamUnavailable("billing", "down")

    results = await asyncio.gather(
        *(cache.get_or_load_many(POLICY, ["a", "new"], load) for _ in range(5))
    )

    assert len(load.batches) == 2
    for result in results:
        stale = result["a"]
        assert isinstance(stale, Cached)
        assert (stale.value, stale.stale) == ("a #1", True)
        assert isinstance(result["new"], UpstreamUnavailable)
