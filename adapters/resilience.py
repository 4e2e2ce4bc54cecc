"""Timeouts, retries and circuit breakers shared by every adapter (GW-2).

One :class:`Resilience` per upstream wraps each call: the circuit breaker refuses calls
while the upstream is known to be down; tenacity retries only the calls the adapter marks
safe (idempotent reads, writes that carry an idempotency key), with exponential backoff and
full jitter, at most three tries, and never beyond the upstream's retry budget, so that a
struggling system is not hit by a retry storm. Timeouts live in the transport (httpx, SMTP)
and surface as :class:`~adapters.errors.UpstreamTimeout`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from opentelemetry.trace import NoOpTracer, SpanKind, Tracer
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
    wait_random_exponential,
)

from adapters import freshness
from adapters.errors import CircuitOpen, UpstreamRejected, UpstreamUnavailable

T = TypeVar("T")
Clock = Callable[[], float]

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops calling an upstream after ``failure_threshold`` failures in a row.

    While open, calls fail at once with :class:`CircuitOpen`. After ``reset_seconds`` one
    trial call is let through (half-open): success closes the breaker, failure opens it
    again. Only unavailability counts as failure; a business refusal is a healthy answer.
    """

    def __init__(
        self,
        upstream: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The breaker's state now (an open breaker turns half-open after its reset time)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Raise :class:`CircuitOpen` unless a call may go to the upstream now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return
        raise CircuitOpen(self.upstream, "circuit breaker is open")

    def record_success(self) -> None:
        """Close the breaker: the upstream answered."""
        if self._opened_at is not None:
            logger.info("circuit breaker closed", extra={"upstream": self.upstream})
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def release_trial(self) -> None:
        """Forget a half-open trial that ended without telling anything (cancelled)."""
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """Count a failure; open the breaker at the threshold or after a failed trial."""
        self._failures += 1
        was_trial = self._trial_in_flight
        self._trial_in_flight = False
        if was_trial or self._failures >= self.failure_threshold:
            if self._opened_at is None or was_trial:
                logger.warning("circuit breaker opened", extra={"upstream": self.upstream})
            self._opened_at = self._clock()


class RetryBudget:
    """Caps retries at ``ratio`` of recent calls (plus a small floor) over a sliding window.

    When an upstream is failing everywhere, retries would multiply its load; the budget
    lets retries smooth over blips but not amplify an outage.
    """

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_per_window: int = 10,
        window_seconds: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.min_per_window = min_per_window
        self.window_seconds = window_seconds
        self._clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _trim(self, now: float) -> None:
        horizon = now - self.window_seconds
        for events in (self._calls, self._retries):
            while events and events[0] < horizon:
                events.popleft()

    def record_call(self) -> None:
        """Note a first attempt."""
        now = self._clock()
        self._trim(now)
        self._calls.append(now)

    def try_spend(self) -> bool:
        """Take one retry from the budget if any is left."""
        now = self._clock()
        self._trim(now)
        allowed = self.min_per_window + self.ratio * len(self._calls)
        if len(self._retries) >= allowed:
            return False
        self._retries.append(now)
        return True


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries and how long to wait between them (full-jitter exponential backoff)."""

    attempts: int = 3
    base_delay: float = 0.05
    max_delay: float = 1.0


def _is_retryable(exc: BaseException | None) -> bool:
    return isinstance(exc, UpstreamUnavailable) and not isinstance(exc, CircuitOpen)


@dataclass
class CallStats:
    """What one upstream's calls did, for metrics: attempts by outcome and their time."""

    outcomes: dict[str, int] = field(default_factory=dict)
    """Attempts by outcome: ``ok``, ``rejected``, ``unavailable``, ``circuit_open``."""
    seconds_sum: float = 0.0
    """Total time of the attempts that reached the upstream."""
    seconds_count: int = 0
    breaker_opened: int = 0
    """Times the breaker opened."""

    def count(self, outcome: str) -> None:
        """One more attempt with ``outcome``."""
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class Resilience:
    """The breaker, retry policy and retry budget of one upstream, applied to each call."""

    def __init__(
        self,
        upstream: str,
        *,
        breaker: CircuitBreaker | None = None,
        retry: RetryPolicy | None = None,
        budget: RetryBudget | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.upstream = upstream
        self.tracer: Tracer = tracer or NoOpTracer()
        self.breaker = breaker or CircuitBreaker(upstream)
        self.retry_policy = retry or RetryPolicy()
        self.budget = budget or RetryBudget()
        self.retries = 0
        """Retries made so far (for metrics and tests)."""
        self.stats = CallStats()

    async def call(self, operation: Callable[[], Awaitable[T]], *, retry: bool) -> T:
        """Run ``operation`` behind the breaker; retry it only when ``retry`` says it is safe.

        ``retry`` must be true only for idempotent calls or calls that carry an
        idempotency key the upstream honours.
        """
        self.budget.record_call()
        freshness.upstream_called()  # an answer carrying this is not kept unless cached
        if isinstance(self.tracer, NoOpTracer):  # no tracing: no span to open and close
            return await (self._with_retries(operation) if retry else self._once(operation))
        with self.tracer.start_as_current_span(
            f"{self.upstream} call",
            kind=SpanKind.CLIENT,
            attributes={"lkk.upstream": self.upstream, "lkk.retry_safe": retry},
        ):
            if not retry:
                return await self._once(operation)
            return await self._with_retries(operation)

    async def _with_retries(self, operation: Callable[[], Awaitable[T]]) -> T:
        # The first attempt runs on its own: most calls succeed, and tenacity's machinery
        # cost a third of a pass-through call (docs/performance.md). A failure worth a retry
        # is then replayed as tenacity's first attempt, so its policy decides exactly as if
        # it had made that attempt (the retry budget, the backoff of attempt 1).
        try:
            return await self._once(operation)
        except Exception as exc:
            if not _is_retryable(exc):
                raise
            first_failure = exc

        def should_retry(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None or not outcome.failed:
                return False
            if not _is_retryable(outcome.exception()) or not self.budget.try_spend():
                return False
            self.retries += 1
            return True

        policy = self.retry_policy
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=wait_random_exponential(multiplier=policy.base_delay, max=policy.max_delay),
            retry=should_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number == 1:
                    raise first_failure
                return await self._once(operation)
        raise AssertionError("unreachable: tenacity reraises the last failure")

    async def _once(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            self.breaker.before_call()
        except CircuitOpen:
            self.stats.count("circuit_open")
            raise
        started = time.perf_counter()
        try:
            result = await operation()
        except UpstreamUnavailable:
            was_open = self.breaker.state is not BreakerState.CLOSED
            self.breaker.record_failure()
            if not was_open and self.breaker.state is not BreakerState.CLOSED:
                self.stats.breaker_opened += 1
            self._timed(started, "unavailable")
            raise
        except UpstreamRejected:
            self.breaker.record_success()  # a business refusal is a healthy answer
            self._timed(started, "rejected")
            raise
        except BaseException:
            # A cancellation or a bug of ours says nothing about the upstream's health,
            # but a half-open trial must not stay marked as in flight.
            self.breaker.release_trial()
            raise
        self.breaker.record_success()
        self._timed(started, "ok")
        return result

    def _timed(self, started: float, outcome: str) -> None:
        self.stats.count(outcome)
        self.stats.seconds_sum += time.perf_counter() - started
        self.stats.seconds_count += 1
