"""Probing the legacy systems for ``appInfo`` (SET-6) and for operators.

Each upstream is probed through its adapter's ``ping`` (a real round trip behind the same
circuit breaker as every other call). Concurrent requests share one round of probes, and a
round is reused for ``cache_seconds`` so that a burst of ``appInfo`` queries cannot turn
into a burst of upstream calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from adapters.errors import LegacyError
from adapters.resilience import BreakerState, Resilience


class UpstreamState(StrEnum):
    """How a legacy system looks from the gateway."""

    UP = "up"
    DEGRADED = "degraded"
    """Answering, but slowly, or its breaker is testing it after an outage."""
    DOWN = "down"


class Probeable(Protocol):
    """What the monitor needs of an adapter."""

    name: str
    resilience: Resilience

    async def ping(self) -> None:
        """One cheap real round trip; raises a ``LegacyError`` when it fails."""


@dataclass(frozen=True)
class UpstreamHealth:
    """The result of probing one upstream."""

    name: str
    state: UpstreamState
    latency_ms: float | None
    """Round-trip time of the probe; None when it failed."""
    detail: str = ""


class UpstreamMonitor:
    """Probes every upstream concurrently, at most once per ``cache_seconds``."""

    def __init__(
        self,
        upstreams: Sequence[Probeable],
        *,
        timeout: float,
        slow_ms: float,
        cache_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self.slow_ms = slow_ms
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._last: tuple[float, list[UpstreamHealth]] | None = None
        self._round: asyncio.Task[list[UpstreamHealth]] | None = None

    async def check(self) -> list[UpstreamHealth]:
        """The state of every upstream, from a recent round of probes or a new one."""
        if self._last is not None and self._clock() - self._last[0] < self.cache_seconds:
            return self._last[1]
        if self._round is None or self._round.done():
            self._round = asyncio.create_task(self._probe_all())
        results = await asyncio.shield(self._round)
        self._last = (self._clock(), results)
        return results

    async def _probe_all(self) -> list[UpstreamHealth]:
        return list(await asyncio.gather(*(self._probe(u) for u in self.upstreams)))

    async def _probe(self, upstream: Probeable) -> UpstreamHealth:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                await upstream.ping()
        except TimeoutError:
            return UpstreamHealth(upstream.name, UpstreamState.DOWN, None, "no answer in time")
        except LegacyError as exc:
            return UpstreamHealth(upstream.name, UpstreamState.DOWN, None, exc.message)
        latency_ms = (time.perf_counter() - started) * 1000
        slow = latency_ms > self.slow_ms
        testing = upstream.resilience.breaker.state is not BreakerState.CLOSED
        state = UpstreamState.DEGRADED if slow or testing else UpstreamState.UP
        return UpstreamHealth(upstream.name, state, round(latency_ms, 2))
