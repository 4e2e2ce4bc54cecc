"""Circuit breaker, retries and retry budget, without any upstream (pure behaviour)."""

from __future__ import annotations

import pytest

from adapters.errors import CircuitOpen, UpstreamRejected, UpstreamTimeout, UpstreamUnavailable
from adapters.resilience import (
    BreakerState,
    CircuitBreaker,
    Resilience,
    RetryBudget,
    RetryPolicy,
)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Upstream:
    """An operation that fails a given number of times with a given error, then answers."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or UpstreamUnavailable("test", "down")
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "answer"


FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)


def resilience(clock: FakeClock | None = None, threshold: int = 3) -> Resilience:
    clock = clock or FakeClock()
    return Resilience(
        "test",
        breaker=CircuitBreaker("test", failure_threshold=threshold, reset_seconds=30, clock=clock),
        retry=FAST,
        budget=RetryBudget(clock=clock),
    )


async def test_a_safe_call_is_retried_until_it_succeeds() -> None:
    upstream = Upstream(failures=2)
    policy = resilience()

    assert await policy.call(upstream, retry=True) == "answer"
    assert upstream.calls == 3
    assert policy.retries == 2


async def test_an_unsafe_call_is_never_retried() -> None:
    upstream = Upstream(failures=1)

    with pytest.raises(UpstreamUnavailable):
        await resilience().call(upstream, retry=False)
    assert upstream.calls == 1


async def test_retries_stop_after_three_tries() -> None:
    upstream = Upstream(failures=10, error=UpstreamTimeout("test", "slow"))

    with pytest.raises(UpstreamTimeout):
        await resilience(threshold=100).call(upstream, retry=True)
    assert upstream.calls == 3


async def test_a_business_refusal_is_not_retried_and_keeps_the_breaker_closed() -> None:
    upstream = Upstream(failures=10, error=UpstreamRejected("test", "PERIOD_LOCKED", "закрыт"))
    policy = resilience(threshold=1)

    with pytest.raises(UpstreamRejected):
        await policy.call(upstream, retry=True)
    assert upstream.calls == 1
    assert state_of(policy) is BreakerState.CLOSED


async def test_the_breaker_opens_after_the_threshold_and_fails_fast() -> None:
    policy = resilience(threshold=3)
    failing = Upstream(failures=100)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await policy.call(failing, retry=False)

    healthy = Upstream()
    with pytest.raises(CircuitOpen):
        await policy.call(healthy, retry=True)
    assert state_of(policy) is BreakerState.OPEN
    assert healthy.calls == 0


def state_of(policy: Resilience) -> BreakerState:
    """The breaker's state now (a call, so mypy does not narrow it across time)."""
    return policy.breaker.state


async def test_after_the_reset_time_one_trial_closes_the_breaker() -> None:
    clock = FakeClock()
    policy = resilience(clock, threshold=1)
    with pytest.raises(UpstreamUnavailable):
        await policy.call(Upstream(failures=1), retry=False)
    assert state_of(policy) is BreakerState.OPEN

    clock.now += 31
    assert state_of(policy) is BreakerState.HALF_OPEN
    assert await policy.call(Upstream(), retry=False) == "answer"
    assert state_of(policy) is BreakerState.CLOSED


async def test_a_failed_trial_opens_the_breaker_again() -> None:
    clock = FakeClock()
    policy = resilience(clock, threshold=1)
    with pytest.raises(UpstreamUnavailable):
        await policy.call(Upstream(failures=1), retry=False)
    clock.now += 31

    with pytest.raises(UpstreamUnavailable):
        await policy.call(Upstream(failures=1), retry=False)
    assert state_of(policy) is BreakerState.OPEN


def test_the_retry_budget_caps_retries_at_a_share_of_calls() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, min_per_window=2, window_seconds=10, clock=clock)
    for _ in range(10):
        budget.record_call()

    granted = sum(budget.try_spend() for _ in range(10))

    assert granted == 4  # 2 + 20 % of 10
    clock.now += 11
    assert budget.try_spend()  # the window moved on
