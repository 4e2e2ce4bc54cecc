"""Caching of upstream answers with per-kind lifetimes and stale-if-error (GW-2).

Each kind of data has its own :class:`CachePolicy`: how long a value is fresh, and how much
longer it may stand in, marked stale, while the upstream is unavailable. The backend is any
aiocache cache: in-process memory by default, Redis when the gateway is scaled out.
Loads of one key are single-flight, so a cold key under load costs one upstream call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiocache import BaseCache, SimpleMemoryCache
from aiocache.base import SENTINEL

from adapters import freshness
from adapters.errors import UpstreamUnavailable

T = TypeVar("T")


@dataclass(frozen=True)
class CachePolicy:
    """Lifetimes of one kind of cached data, in seconds."""

    kind: str
    ttl: float
    """How long a value is served without asking the upstream."""
    stale_ttl: float
    """How long past ``ttl`` a value may still stand in while the upstream is down."""


# DESIGN.md, "Adapters": accounts and meters minutes; balances short; closed periods long;
# payment status never.
ACCOUNTS = CachePolicy("accounts", ttl=300, stale_ttl=7 * 86400)
METERS = CachePolicy("meters", ttl=300, stale_ttl=7 * 86400)
READINGS = CachePolicy("readings", ttl=60, stale_ttl=7 * 86400)
BALANCES = CachePolicy("balances", ttl=30, stale_ttl=2 * 86400)
PAYMENT_HISTORY = CachePolicy("payments", ttl=30, stale_ttl=2 * 86400)
CLOSED_STATEMENTS = CachePolicy("statements", ttl=86400, stale_ttl=30 * 86400)
RECEIPTS = CachePolicy("receipts", ttl=7 * 86400, stale_ttl=30 * 86400)


@dataclass(frozen=True)
class Cached(Generic[T]):
    """A value with the time it was fetched and whether it is served stale."""

    value: T
    as_of: datetime
    stale: bool


@dataclass(frozen=True)
class _Entry:
    value: Any
    fetched_at: float


class UpstreamCache:
    """Per-kind caching in front of adapter calls, with stale-if-error and single-flight.

    ``clock`` returns epoch seconds (injectable in tests).
    """

    def __init__(
        self,
        backend: BaseCache | None = None,
        *,
        namespace: str = "lkk",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend: BaseCache = backend if backend is not None else memory_cache()
        self.namespace = namespace
        self._clock = clock
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._inflight_many: dict[str, asyncio.Future[tuple[bool, Any, float]]] = {}
        self.hits = 0
        self.misses = 0
        self.stale_served = 0

    def _key(self, policy: CachePolicy, key: str) -> str:
        return f"{self.namespace}:{policy.kind}:{key}"

    async def get_or_load(
        self, policy: CachePolicy, key: str, load: Callable[[], Awaitable[T]]
    ) -> Cached[T]:
        """The fresh cached value, else a new one from ``load``; when ``load`` fails with
        :class:`UpstreamUnavailable` and a value within ``stale_ttl`` exists, that value,
        marked stale."""
        full_key = self._key(policy, key)
        entry: _Entry | None = await self.backend.get(full_key)
        now = self._clock()
        if entry is not None and now - entry.fetched_at < policy.ttl:
            return self._hit(policy, entry, now)
        self.misses += 1
        try:
            value: T = await self._load_once(full_key, policy, load)
        except UpstreamUnavailable:
            if entry is None:
                freshness.spoil()
                raise
            self.stale_served += 1  # the same stale value until the upstream is back
            return Cached(entry.value, _as_datetime(entry.fetched_at), stale=True)
        freshness.fresh_for(policy.ttl)
        return Cached(value, _as_datetime(self._clock()), stale=False)

    async def _load_once(
        self, full_key: str, policy: CachePolicy, load: Callable[[], Awaitable[T]]
    ) -> T:
        pending = self._inflight.get(full_key)
        if pending is not None:
            result: T = await asyncio.shield(pending)
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[full_key] = future
        try:
            with freshness.cache_loading():
                value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            await self.backend.set(
                full_key, _Entry(value, self._clock()), ttl=policy.ttl + policy.stale_ttl
            )
            future.set_result(value)
            return value
        finally:
            del self._inflight[full_key]

    def _hit(self, policy: CachePolicy, entry: _Entry, now: float) -> Cached[Any]:
        """A fresh entry as served: counted, and its freshness reported for the answer."""
        self.hits += 1
        freshness.fresh_for(entry.fetched_at + policy.ttl - now)
        return Cached(entry.value, _as_datetime(entry.fetched_at), stale=False)

    def peek_many(self, policy: CachePolicy, keys: Sequence[str]) -> dict[str, Cached[Any]] | None:
        """The fresh values of all ``keys`` at once, without awaiting anything, when the
        backend is this process's memory and every key is fresh; else ``None``, and nothing
        is counted (ask :meth:`get_or_load_many`). A DataLoader answers such hits without a
        batch, which costs the request a few turns of the event loop (docs/performance.md)."""
        peek: Callable[[str], Any] | None = getattr(self.backend, "peek", None)
        if peek is None:
            return None
        now = self._clock()
        entries: list[tuple[str, _Entry]] = []
        for key in dict.fromkeys(keys):
            entry: _Entry | None = peek(self._key(policy, key))
            if entry is None or now - entry.fetched_at >= policy.ttl:
                return None
            entries.append((key, entry))
        return {key: self._hit(policy, entry, now) for key, entry in entries}

    async def get_or_load_many(
        self,
        policy: CachePolicy,
        keys: Sequence[str],
        load_many: Callable[[list[str]], Awaitable[Mapping[str, T]]],
    ) -> dict[str, Cached[T] | None | UpstreamUnavailable]:
        """Like :meth:`get_or_load` for many keys with one batched load of the misses.

        ``load_many`` gets only the keys that are not fresh in the cache and returns what
        the upstream knows of them; a key it leaves out maps to ``None`` (unknown upstream).
        When the batch fails, each missing key gets its stale value if it has one, else the
        error itself, so that one caller's failure does not fail the others (partial data).
        """
        now = self._clock()
        found: dict[str, Cached[T] | None | UpstreamUnavailable] = {}
        entries: dict[str, _Entry | None] = {}
        for key in dict.fromkeys(keys):
            entry: _Entry | None = await self.backend.get(self._key(policy, key))
            if entry is not None and now - entry.fetched_at < policy.ttl:
                found[key] = self._hit(policy, entry, now)
            else:
                entries[key] = entry
        if not entries:
            return found
        self.misses += len(entries)
        # Single-flight across batches: a key another request is loading right now is
        # awaited, not loaded again, so an expiry under load costs one upstream call, not
        # one per concurrent request (docs/performance.md).
        waiting = {
            key: self._inflight_many[self._key(policy, key)]
            for key in entries
            if self._key(policy, key) in self._inflight_many
        }
        mine = [key for key in entries if key not in waiting]
        outcomes = {**(await self._load_batch(policy, mine, load_many)), **waiting}
        for key, outcome in outcomes.items():
            try:
                known, value, fetched_at = await asyncio.shield(outcome)
            except UpstreamUnavailable as exc:
                entry = entries[key]
                if entry is None:
                    freshness.spoil()
                    found[key] = exc
                else:
                    self.stale_served += 1
                    found[key] = Cached(entry.value, _as_datetime(entry.fetched_at), stale=True)
                continue
            if known:
                freshness.fresh_for(fetched_at + policy.ttl - self._clock())
            else:  # not cached: asked of the upstream again next time
                freshness.spoil()
            found[key] = Cached(value, _as_datetime(fetched_at), stale=False) if known else None
        return found

    async def _load_batch(
        self,
        policy: CachePolicy,
        keys: list[str],
        load_many: Callable[[list[str]], Awaitable[Mapping[str, Any]]],
    ) -> dict[str, asyncio.Future[tuple[bool, Any, float]]]:
        """Load ``keys`` in one batch; each key's outcome as a future that concurrent
        callers share: ``(known, value, fetched_at)`` or the load's exception."""
        if not keys:
            return {}
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[tuple[bool, Any, float]]] = {}
        for key in keys:
            futures[key] = self._inflight_many[self._key(policy, key)] = loop.create_future()
        try:
            with freshness.cache_loading():
                loaded = await load_many(keys)
        except asyncio.CancelledError:
            for future in futures.values():
                future.cancel()
            raise
        except BaseException as exc:
            for future in futures.values():
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning
            if not isinstance(exc, UpstreamUnavailable):
                raise
            return futures
        else:
            fetched_at = self._clock()
            for key, future in futures.items():
                future.set_result((key in loaded, loaded.get(key), fetched_at))
            for key in keys:
                if key in loaded:
                    await self.backend.set(
                        self._key(policy, key),
                        _Entry(loaded[key], fetched_at),
                        ttl=policy.ttl + policy.stale_ttl,
                    )
            return futures
        finally:
            for key in keys:
                del self._inflight_many[self._key(policy, key)]

    async def invalidate(self, policy: CachePolicy, key: str) -> None:
        """Forget one value (after a write that changes it)."""
        await self.backend.delete(self._key(policy, key))


class LeanMemoryCache(SimpleMemoryCache):  # type: ignore[misc]
    """aiocache's memory cache, same storage and expiry, without the layers every call of
    its public API passes through: the ``AIOCACHE_DISABLE`` environment lookup, the
    plugins' hooks and the timing (about 2 µs a lookup, against 0.1 µs for the storage
    itself). This process's memory has no plugins, no timeout and is never disabled."""

    async def get(
        self,
        key: str,
        default: Any = None,
        loads_fn: Callable[[Any], Any] | None = None,
        namespace: str | None = None,
        _conn: Any = None,
    ) -> Any:
        ns_key = self.build_key(key, namespace=self.namespace if namespace is None else namespace)
        value = (loads_fn or self._serializer.loads)(await self._get(ns_key))
        return value if value is not None else default

    def peek(self, key: str) -> Any:
        """The value kept under ``key`` (``None`` if none), read synchronously: memory has
        nothing to wait for (:meth:`UpstreamCache.peek_many`)."""
        stored = self._cache.get(self.build_key(key, namespace=self.namespace))
        return self._serializer.loads(stored)

    async def set(
        self,
        key: str,
        value: Any,
        ttl: Any = SENTINEL,
        dumps_fn: Callable[[Any], Any] | None = None,
        namespace: str | None = None,
        _cas_token: Any = None,
        _conn: Any = None,
    ) -> bool:
        ns_key = self.build_key(key, namespace=self.namespace if namespace is None else namespace)
        dumped = (dumps_fn or self._serializer.dumps)(value)
        done: bool = await self._set(ns_key, dumped, ttl=self._get_ttl(ttl), _cas_token=_cas_token)
        return done


def memory_cache() -> SimpleMemoryCache:
    """This process's memory as a cache backend (:class:`LeanMemoryCache`). Without
    aiocache's per-call timeout too: memory cannot hang, and the timeout wraps every lookup
    in ``asyncio.wait_for`` (a task per call before Python 3.12; 6 % of a warm dashboard's
    CPU, docs/performance.md)."""
    return LeanMemoryCache(timeout=None)


def _as_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
