"""Rate limits that outlive a Redis blip (GW-4): the customers' limits when the counters live
in Redis, shared by every replica.

When Redis cannot answer (down, or slower than ``LKK_REDIS_TIMEOUT_SECONDS``), each limit
either **fails open** — the event is allowed and not counted — or **fails closed** — the
event is refused as if the limit were reached. Which, is decided per limit:

- open, the default: the sign-in failure limits (AUTH-4), code entry tries, diagnostics.
  Failing closed would lock every customer out of the whole service for as long as Redis is
  away, which is worse than a few minutes in which password guessing is held back only by
  Argon2's cost and the store-kept five tries per code;
- closed: :data:`FAIL_CLOSED` — sending codes by SMS and e-mail. Each code costs money and
  reaches a third party's phone, so an outage of the counters must not become an open
  relay for SMS pumping; a customer asking for a code in those minutes is told to try later.

Every failure is counted (:attr:`ResilientRateLimiter.storage_errors`, the metric
``lkk_redis_errors_total{use="rate_limits"}``) and logged at ERROR at most once per
:data:`LOG_EVERY_SECONDS`: a limit that is not enforced is an incident, not a warning.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from limits.errors import StorageError

from gateway.observability import Throttle
from gateway.security.ratelimit import Limit, RateLimiter, storage_uri
from gateway.settings import Settings

logger = logging.getLogger(__name__)

FAIL_CLOSED = frozenset({"codes-per-hour", "codes-per-address"})
"""Limits that refuse when their counters cannot be read: the ones that send codes."""
LOG_EVERY_SECONDS = 10.0
"""Failures are logged at most this often per process (each one is counted)."""

_STORAGE_ERRORS = (StorageError, OSError, TimeoutError)


def with_timeouts(redis_url: str, seconds: float) -> str:
    """``redis_url`` with ``socket_timeout`` and ``socket_connect_timeout`` (redis-py URL
    options) set to ``seconds`` unless the URL sets them: a hung Redis must cost a request
    a fraction of a second, not the operating system's TCP timeout."""
    parts = urlsplit(redis_url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("socket_timeout", str(seconds))
    query.setdefault("socket_connect_timeout", str(seconds))
    return urlunsplit(parts._replace(query=urlencode(query)))


class ResilientRateLimiter(RateLimiter):
    """A :class:`RateLimiter` that answers when its storage cannot: open or closed per limit
    (see the module's docstring)."""

    def __init__(self, uri: str, *, fail_closed: frozenset[str] = FAIL_CLOSED) -> None:
        super().__init__(uri, wrap_exceptions=True)
        self.fail_closed = fail_closed
        self.storage_errors = 0
        """Operations the storage failed (each answered by the fail-open/closed rule)."""
        self._log = Throttle(LOG_EVERY_SECONDS)

    def _failed(self, limit: Limit, exc: BaseException) -> bool:
        """Count and log a failure; whether ``limit`` fails closed."""
        self.storage_errors += 1
        closed = limit.name in self.fail_closed
        if self._log.allows():
            logger.error(
                "rate-limit storage failed, limit %r fails %s: %s (%d failures so far)",
                limit.name,
                "closed" if closed else "open",
                type(exc).__name__,
                self.storage_errors,
            )
        return closed

    async def hit(self, limit: Limit, *key: str) -> bool:
        """Count one event; False when the limit was already reached (nothing counted)."""
        try:
            return await super().hit(limit, *key)
        except _STORAGE_ERRORS as exc:
            return not self._failed(limit, exc)

    async def is_exhausted(self, limit: Limit, *key: str) -> bool:
        """Whether one more event would exceed the limit."""
        try:
            return await super().is_exhausted(limit, *key)
        except _STORAGE_ERRORS as exc:
            return self._failed(limit, exc)

    async def retry_after(self, limit: Limit, *key: str) -> float:
        """Seconds until one more event is allowed (the whole window when unknown and the
        limit fails closed)."""
        try:
            return await super().retry_after(limit, *key)
        except _STORAGE_ERRORS as exc:
            return float(limit.seconds) if self._failed(limit, exc) else 0.0

    async def remaining(self, limit: Limit, *key: str) -> int:
        """Events one key may still have in the current window."""
        try:
            return await super().remaining(limit, *key)
        except _STORAGE_ERRORS as exc:
            return 0 if self._failed(limit, exc) else limit.amount

    async def reset(self, limit: Limit, *key: str) -> None:
        """Forget the events of one key (they expire with their window when Redis is away)."""
        try:
            await super().reset(limit, *key)
        except _STORAGE_ERRORS as exc:
            self._failed(limit, exc)

    async def spend(self, budget: Limit, cost: int, *key: str) -> bool:
        """Take ``cost`` from a budget; False when less than ``cost`` is left."""
        try:
            return await super().spend(budget, cost, *key)
        except _STORAGE_ERRORS as exc:
            return not self._failed(budget, exc)

    async def balance(self, budget: Limit, *key: str) -> tuple[int, float | None]:
        """What is left of a budget, and when its window ends."""
        try:
            return await super().balance(budget, *key)
        except _STORAGE_ERRORS as exc:
            return (0 if self._failed(budget, exc) else budget.amount), None


async def close_limiter(limiter: RateLimiter) -> None:
    """Close the Redis connections under a limiter, if it has any (``limits`` offers no
    close of its own: its redis-py client is reached through the storage's bridge)."""
    client = getattr(getattr(limiter.storage, "bridge", None), "storage", None)
    aclose = getattr(client, "aclose", None)
    if aclose is not None:
        await aclose()


def shared_limiter(settings: Settings) -> RateLimiter:
    """The customers' rate limiter: in-process memory in the embedded mode, else Redis
    (shared by the replicas) with bounded waits and the fail-open/closed rule."""
    if not settings.redis_url:
        return RateLimiter(storage_uri(""))
    url = with_timeouts(settings.redis_url, settings.redis_timeout_seconds)
    return ResilientRateLimiter(storage_uri(url))
