"""What the adapter contract tests share: quick resilience, and counting HTTP requests."""

from __future__ import annotations

from typing import Generic, TypeVar

import httpx

from adapters.resilience import CircuitBreaker, Resilience, RetryPolicy

C = TypeVar("C")


def fast_resilience(name: str, failure_threshold: int = 100) -> Resilience:
    """Fast retries (3 tries) and a breaker that stays closed unless a test lowers it."""
    return Resilience(
        name,
        breaker=CircuitBreaker(name, failure_threshold=failure_threshold, reset_seconds=60),
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02),
    )


class Counted(Generic[C]):
    """An adapter under test, with a count of the HTTP requests it sent."""

    def __init__(self, client: C, http: httpx.AsyncClient) -> None:
        self.client = client
        self.http = http
        self.requests = 0

        async def count(request: httpx.Request) -> None:
            self.requests += 1

        http.event_hooks["request"].append(count)
