"""How much of the API a caller may use (GW-1, GW-3).

* **Hourly cost budget.** Every request costs what ``schema/limits.py``'s ``measure()`` says
  (each field 1, lists multiplied by their page size). A caller may spend so many cost units
  per hour: a signed-in customer (``LKK_HOURLY_COST_BUDGET``), an API key
  (``LKK_API_KEY_HOURLY_COST_BUDGET`` or its own, ``lkk apikey limits``), and whoever is not
  signed in, per client address (the customer budget again). The cost is taken before the
  request runs; a request that would overdraw the budget is refused whole and costs nothing.
  The window is fixed: it starts with the first request after the previous one ended, so a
  client can be told exactly when its budget is whole again.
* **Requests per minute of an API key** (moving window): a partner's integration going round
  in a loop is stopped before it spends its budget in minutes.
* **WebSocket connections per minute of a client address** (moving window).

Counters live in the gateway's shared :class:`RateLimiter`: in-process, or Redis when
``LKK_REDIS_URL`` is set, so that replicas share them. When Redis fails, these limits fail
open (``gateway/security/resilient_limits.py``: the failure is counted and logged): a Redis
outage must not become an API outage.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gateway.clock import Clock
from gateway.identity.apikeys import ApiKeyNotFound
from gateway.security.ratelimit import Limit, RateLimiter
from gateway.store.db import Store
from gateway.store.models import ApiKey, ApiKeyLimits

HOUR = 3600
MINUTE = 60


class CallerKind(StrEnum):
    """Whose budget a request spends."""

    CUSTOMER = "customer"
    API_KEY = "api_key"
    CLIENT_ADDRESS = "client_address"


@dataclass(frozen=True)
class Caller:
    """The one a budget belongs to: a customer (by user id), an API key (by key id) or, for
    requests without credentials, a client address."""

    kind: CallerKind
    key: str

    @classmethod
    def of(cls, *, user_id: uuid.UUID | None, key_id: uuid.UUID | None, address: str) -> Caller:
        """The caller of a request: its API key first, else its customer, else its address."""
        if key_id is not None:
            return cls(CallerKind.API_KEY, str(key_id))
        if user_id is not None:
            return cls(CallerKind.CUSTOMER, str(user_id))
        return cls(CallerKind.CLIENT_ADDRESS, address or "unknown")


@dataclass(frozen=True)
class Usage:
    """A caller's budget as it stands (``rateLimitInfo``)."""

    caller: Caller
    limit: int
    """Cost units per window."""
    remaining: int
    reset_at: datetime | None
    """When the current window ends; None while no window is open (nothing spent)."""
    window_seconds: int
    requests_per_minute: int | None = None
    """An API key's request rate limit (None for customers and addresses)."""
    requests_remaining: int | None = None


class LimitExceeded(Exception):
    """A usage limit refuses a request. ``message`` is for the client, in Russian, and says
    which limit and when it lets requests through again."""

    def __init__(
        self,
        name: str,
        message: str,
        *,
        limit: int,
        retry_after: float,
        reset_at: datetime | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.name = name
        """``hourlyCostBudget``, ``apiKeyRequestsPerMinute`` or
        ``webSocketConnectionsPerMinute``."""
        self.message = message
        self.limit = limit
        self.retry_after = retry_after
        self.reset_at = reset_at
        self.details = details or {}


@dataclass(frozen=True)
class UsagePolicy:
    """The defaults of the settings."""

    hourly_cost_budget: int
    api_key_hourly_cost_budget: int
    api_key_requests_per_minute: int
    ws_connections_per_minute: int
    timezone: ZoneInfo
    """The utility's time zone: reset times in messages are local."""


@dataclass(frozen=True)
class KeyLimitValues:
    """What is set for one key (None: the default of the settings)."""

    requests_per_minute: int | None = None
    hourly_cost_budget: int | None = None


class KeyLimits:
    """Per-key limits in the store, read through a short in-process cache (a changed limit
    takes effect within :attr:`ttl` seconds on every replica)."""

    def __init__(self, store: Store, clock: Clock, *, ttl: float = 10.0) -> None:
        self.store = store
        self.clock = clock
        self.ttl = ttl
        self._cache: dict[uuid.UUID, tuple[float, KeyLimitValues]] = {}

    async def get(self, key_id: uuid.UUID) -> KeyLimitValues:
        """The limits set for a key."""
        cached = self._cache.get(key_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.store.reading_session() as db:
            row = await db.get(ApiKeyLimits, key_id)
        values = (
            KeyLimitValues(row.requests_per_minute, row.hourly_cost_budget)
            if row is not None
            else KeyLimitValues()
        )
        self._cache[key_id] = (now + self.ttl, values)
        return values

    async def set(
        self,
        key_id: uuid.UUID,
        *,
        requests_per_minute: int | None,
        hourly_cost_budget: int | None,
    ) -> KeyLimitValues:
        """Set (or, with None, clear back to the default) the limits of a key."""
        for value in (requests_per_minute, hourly_cost_budget):
            if value is not None and value < 1:
                raise ValueError("a limit is at least 1")
        async with self.store.session() as db:
            if await db.scalar(select(ApiKey.id).where(ApiKey.id == key_id)) is None:
                raise ApiKeyNotFound(str(key_id))
            row = await db.get(ApiKeyLimits, key_id, with_for_update=True)
            if row is None:
                row = ApiKeyLimits(key_id=key_id)
                db.add(row)
            row.requests_per_minute = requests_per_minute
            row.hourly_cost_budget = hourly_cost_budget
            row.updated_at = self.clock.now()
        self._cache.pop(key_id, None)
        return KeyLimitValues(requests_per_minute, hourly_cost_budget)


_WHOSE = {
    CallerKind.CUSTOMER: "вашей учётной записи",
    CallerKind.API_KEY: "ключа API",
    CallerKind.CLIENT_ADDRESS: "вашего адреса",
}


class UsageLimits:
    """Takes each request's cost from its caller's budget and counts API keys' requests and
    WebSocket connections."""

    def __init__(self, limiter: RateLimiter, key_limits: KeyLimits, policy: UsagePolicy) -> None:
        self.limiter = limiter
        self.key_limits = key_limits
        self.policy = policy

    async def budget_of(self, caller: Caller) -> Limit:
        """The hourly budget that applies to ``caller``."""
        amount = self.policy.hourly_cost_budget
        if caller.kind is CallerKind.API_KEY:
            own = (await self.key_limits.get(uuid.UUID(caller.key))).hourly_cost_budget
            amount = own or self.policy.api_key_hourly_cost_budget
        return Limit(f"cost-budget:{caller.kind.value}", amount, HOUR)

    async def charge(self, caller: Caller, cost: int) -> None:
        """Take ``cost`` from the caller's hourly budget, or refuse the request
        (:class:`LimitExceeded`, nothing taken) when less than that is left."""
        if cost <= 0:
            return
        budget = await self.budget_of(caller)
        if await self.limiter.spend(budget, cost, caller.key):
            return
        remaining, reset = await self.limiter.balance(budget, caller.key)
        raise self._over_budget(caller, budget, cost, remaining, reset)

    async def usage(self, caller: Caller) -> Usage:
        """The caller's budget as it stands, and an API key's request rate."""
        budget = await self.budget_of(caller)
        rate: Limit | None = None
        if caller.kind is CallerKind.API_KEY:
            rate = await self.request_rate_of(uuid.UUID(caller.key))
        remaining, reset = await self.limiter.balance(budget, caller.key)
        requests_remaining = (
            await self.limiter.remaining(rate, caller.key) if rate is not None else None
        )
        return Usage(
            caller=caller,
            limit=budget.amount,
            remaining=remaining,
            reset_at=_moment(reset),
            window_seconds=budget.seconds,
            requests_per_minute=rate.amount if rate is not None else None,
            requests_remaining=requests_remaining,
        )

    async def request_rate_of(self, key_id: uuid.UUID) -> Limit:
        """The requests-per-minute limit of an API key."""
        own = (await self.key_limits.get(key_id)).requests_per_minute
        return Limit("api-key-requests", own or self.policy.api_key_requests_per_minute, MINUTE)

    async def admit_request(self, key_id: uuid.UUID) -> None:
        """Count one request of an API key, or refuse it (:class:`LimitExceeded`)."""
        rate = await self.request_rate_of(key_id)
        if await self.limiter.hit(rate, str(key_id)):
            return
        wait = await self.limiter.retry_after(rate, str(key_id))
        seconds = max(math.ceil(wait), 1)
        raise LimitExceeded(
            "apiKeyRequestsPerMinute",
            f"Превышен лимит частоты запросов ключа API: не более {rate.amount} в минуту. "
            f"Повторите запрос через {seconds} с.",
            limit=rate.amount,
            retry_after=seconds,
        )

    async def admit_connection(self, address: str) -> None:
        """Count one WebSocket connection from a client address, or refuse it."""
        rate = Limit("ws-connections", self.policy.ws_connections_per_minute, MINUTE)
        if await self.limiter.hit(rate, address or "unknown"):
            return
        wait = await self.limiter.retry_after(rate, address or "unknown")
        seconds = max(math.ceil(wait), 1)
        raise LimitExceeded(
            "webSocketConnectionsPerMinute",
            f"Слишком много подключений WebSocket с вашего адреса: не более {rate.amount} "
            f"в минуту. Повторите через {seconds} с.",
            limit=rate.amount,
            retry_after=seconds,
        )

    def _over_budget(
        self, caller: Caller, budget: Limit, cost: int, remaining: int, reset: float | None
    ) -> LimitExceeded:
        reset_at = _moment(reset)
        wait = max(reset - time.time(), 0.0) if reset is not None else float(budget.seconds)
        minutes = max(math.ceil(wait / 60), 1)
        local = (reset_at or datetime.now(UTC)).astimezone(self.policy.timezone)
        offset = local.strftime("%z")
        when = f"{local:%H:%M} (UTC{offset[:3]}:{offset[3:]})"
        return LimitExceeded(
            "hourlyCostBudget",
            f"Превышен часовой лимит стоимости запросов {_WHOSE[caller.kind]}: "
            f"{budget.amount} единиц в час. Этот запрос стоит {cost}, осталось {remaining}. "
            f"Лимит восстановится в {when}, через {minutes} мин.",
            limit=budget.amount,
            retry_after=math.ceil(wait),
            reset_at=reset_at,
            details={"cost": cost, "remaining": remaining},
        )


def _moment(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None
