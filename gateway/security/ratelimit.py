"""Rate limits over moving windows (AUTH-4), in memory or in Redis for several replicas.

A :class:`Limit` says how many events of one kind a key may have in a window; the
:class:`RateLimiter` counts them with the ``limits`` library, whose storage is in-process by
default and Redis when ``LKK_REDIS_URL`` is set, so that limits hold across replicas.

Budgets (an amount of cost spent per window, GW-1) use fixed windows instead
(:meth:`RateLimiter.spend`): one counter per key whatever the amounts, so a budget of a
million costs one integer in Redis, and the window has a reset time a client can be told.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True)
class Limit:
    """At most ``amount`` events per ``seconds`` for one key (``seconds`` 0: no limit)."""

    name: str
    amount: int
    seconds: int

    @property
    def item(self) -> RateLimitItem:
        """The ``limits`` item of this limit (namespaced by its name)."""
        return RateLimitItemPerSecond(self.amount, self.seconds, namespace=f"lkk:{self.name}")


def storage_uri(redis_url: str) -> str:
    """The ``limits`` storage for a Redis URL (empty: in-process memory)."""
    if not redis_url:
        return "async+memory://"
    return "async+" + redis_url


class FixedWindows:
    """Budgets in process memory: per key, the end of its current window and what was
    spent in it. The ``limits`` library's memory storage does the same with a clean-up task
    scheduled on every charge, which cost several percent of a whole request
    (docs/performance.md); here expired windows are swept when the map has doubled."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, ...], list[float]] = {}
        self._sweep_at = 1024

    def spend(self, budget: Limit, cost: int, key: tuple[str, ...], now: float) -> bool:
        """Take ``cost``; False, and nothing taken, when less than that is left."""
        name = (budget.name, *key)
        window = self._windows.get(name)
        if window is None or window[0] <= now:
            if cost > budget.amount:
                return False
            if len(self._windows) >= self._sweep_at:
                self._sweep(now)
            self._windows[name] = [now + budget.seconds, float(cost)]
            return True
        if window[1] + cost > budget.amount:
            return False
        window[1] += cost
        return True

    def balance(self, budget: Limit, key: tuple[str, ...], now: float) -> tuple[int, float | None]:
        """What is left, and when the window ends (None: nothing spent in a window)."""
        window = self._windows.get((budget.name, *key))
        if window is None or window[0] <= now:
            return budget.amount, None
        return max(budget.amount - int(window[1]), 0), window[0]

    def _sweep(self, now: float) -> None:
        for name in [n for n, (ends, _) in self._windows.items() if ends <= now]:
            del self._windows[name]
        self._sweep_at = max(1024, 2 * len(self._windows))


class RateLimiter:
    """Counts events per key and tells when a limit is reached."""

    def __init__(self, uri: str = "async+memory://", *, wrap_exceptions: bool = False) -> None:
        options: dict[str, float | str | bool] = {"wrap_exceptions": wrap_exceptions}
        if uri.startswith("async+redis"):
            options["implementation"] = "redispy"
        storage = storage_from_string(uri, **options)
        if not isinstance(storage, Storage):
            raise ValueError(f"not an async rate-limit storage: {uri}")
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._fixed = FixedWindowRateLimiter(self.storage)
        self._budgets = FixedWindows() if uri.startswith("async+memory") else None

    async def hit(self, limit: Limit, *key: str) -> bool:
        """Count one event; False when the limit was already reached (nothing counted)."""
        return await self._strategy.hit(limit.item, *key)

    async def is_exhausted(self, limit: Limit, *key: str) -> bool:
        """Whether one more event would exceed the limit."""
        return not await self._strategy.test(limit.item, *key)

    async def retry_after(self, limit: Limit, *key: str) -> float:
        """Seconds until one more event is allowed (0 when it is allowed now)."""
        stats = await self._strategy.get_window_stats(limit.item, *key)
        if stats.remaining > 0:
            return 0.0
        return max(stats.reset_time - time.time(), 0.0)

    async def remaining(self, limit: Limit, *key: str) -> int:
        """Events one key may still have in the current window."""
        return (await self._strategy.get_window_stats(limit.item, *key)).remaining

    async def reset(self, limit: Limit, *key: str) -> None:
        """Forget the events of one key (after a successful sign-in)."""
        await self._strategy.clear(limit.item, *key)

    async def spend(self, budget: Limit, cost: int, *key: str) -> bool:
        """Take ``cost`` from a budget (a fixed window of ``budget.amount`` per
        ``budget.seconds``); False, and nothing taken, when less than ``cost`` is left."""
        if self._budgets is not None:
            return self._budgets.spend(budget, cost, key, time.time())
        if not await self._fixed.test(budget.item, *key, cost=cost):
            return False
        return await self._fixed.hit(budget.item, *key, cost=cost)

    async def balance(self, budget: Limit, *key: str) -> tuple[int, float | None]:
        """What is left of a budget, and when its window ends (epoch seconds; None while
        nothing has been spent in a window)."""
        if self._budgets is not None:
            return self._budgets.balance(budget, key, time.time())
        stats = await self._fixed.get_window_stats(budget.item, *key)
        spent = stats.remaining < budget.amount
        return stats.remaining, stats.reset_time if spent else None
