"""Single flight: work running now, by key, which others asking for the same key wait for
instead of running it again.

When a cached value runs out while many requests need it at once (a customer's session and
accounts every few seconds, a kept answer of a dashboard the app polls), each of them would
otherwise read the store or run the operation itself: under 50 clients that burst was the
warm dashboard's p99 (docs/performance.md). With a :class:`Flights`, the first request
leads, the others wait for what it hands over, and a leader that hands nothing over (it
failed, was cancelled, or what it found may not be shared) lets each waiter do the work
itself — waiting never turns into an error of someone else's.

The upstream cache (``adapters/cache.py``) keeps its own single flight on purpose: there the
waiters share the load's *error* too, since an upstream that just failed is not asked again
by every waiter (each then serves its stale value), and a batch's keys settle one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Flights(Generic[K, V]):
    """The futures of the work running now, one per key."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V | None]] = {}

    def running(self, key: K) -> bool:
        """Whether work under ``key`` is running now."""
        return key in self._running

    async def join(self, key: K) -> V | None:
        """What the work running under ``key`` hands over once done; None at once when none
        runs, or when it hands nothing over. A waiter cancelled here does not cancel the
        work nor the other waiters."""
        running = self._running.get(key)
        if running is None:
            return None
        return await asyncio.shield(running)

    def lead(self, key: K) -> asyncio.Future[V | None] | None:
        """Mark work under ``key`` as running, unless it already is: the future to pass to
        :meth:`settle` once it is done, whatever happens (None: another leads it)."""
        if key in self._running:
            return None
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        return future

    def settle(self, key: K, future: asyncio.Future[V | None], value: V | None) -> None:
        """The led work is done: hand ``value`` (None: nothing) to those waiting."""
        if self._running.get(key) is future:
            del self._running[key]
        if not future.done():
            future.set_result(value)
