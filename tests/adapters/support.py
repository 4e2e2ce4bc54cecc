"""What the adapter contract tests share: quick resilience, and counting HTTP requests."""

from __future__ import annotations

from typing import Generic, TypeVar

import httpx

from adapters.http import UpstreamHttp
from adapters.resilience import CircuitBreaker, Resilience, RetryPolicy

C = TypeVar("C")
H = TypeVar("H", UpstreamHttp, httpx.AsyncClient)


def fast_resilience(name: str, failure_threshold: int = 100) -> Resilience:
    """Fast retries (3 tries) and a breaker that stays closed unless a test lowers it."""
    return Resilience(
        name,
        breaker=CircuitBreaker(name, failure_threshold=failure_threshold, reset_seconds=60),
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02),
    )


class Counted(Generic[C, H]):
    """An adapter under test, with a count of the HTTP requests it sent."""

    def __init__(self, client: C, http: H) -> None:
        self.client = client
        self.http: H = http
        self.requests = 0

        if isinstance(http, UpstreamHttp):
            http.observers.append(lambda method, url: self._count())
        else:

            async def count(request: httpx.Request) -> None:
                self._count()

            http.event_hooks["request"].append(count)

    def _count(self) -> None:
        self.requests += 1
