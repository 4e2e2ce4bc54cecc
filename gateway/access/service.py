"""The API-access services as one object of :class:`gateway.services.Services`."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.access.operations import AutomaticPersistedQueries, PersistedOperations
from gateway.access.usage import KeyLimits, UsageLimits, UsagePolicy
from gateway.clock import Clock
from gateway.identity.apikeys import ApiPrincipal
from gateway.security.ratelimit import RateLimiter
from gateway.settings import Settings
from gateway.store.db import Store

OPERATOR_SCOPE = "operator"


@dataclass(frozen=True)
class ApiAccess:
    """Usage limits, the partners' allow-lists and the APQ cache."""

    usage: UsageLimits
    operations: PersistedOperations
    apq: AutomaticPersistedQueries
    allow_list: bool
    """Whether partner keys are held to their allow-lists (``LKK_PARTNER_ALLOW_LIST``)."""

    @classmethod
    def create(
        cls, settings: Settings, store: Store, clock: Clock, limiter: RateLimiter
    ) -> ApiAccess:
        """The services of ``settings``. ``limiter`` is the gateway's shared one
        (``gateway/security/resilient_limits.py``): its counters are in Redis when
        ``LKK_REDIS_URL`` is set, and when Redis fails these limits fail open."""
        policy = UsagePolicy(
            hourly_cost_budget=settings.hourly_cost_budget,
            api_key_hourly_cost_budget=settings.api_key_hourly_cost_budget,
            api_key_requests_per_minute=settings.api_key_requests_per_minute,
            ws_connections_per_minute=settings.ws_connections_per_minute,
            timezone=ZoneInfo(settings.utility_timezone),
        )
        return cls(
            usage=UsageLimits(limiter, KeyLimits(store, clock), policy),
            operations=PersistedOperations(store, clock),
            apq=AutomaticPersistedQueries.of(settings),
            allow_list=settings.partner_allow_list_enabled,
        )

    def is_held_to_allow_list(self, principal: ApiPrincipal | None) -> bool:
        """Whether this caller may send only registered operations: a partner's key (one
        without the ``operator`` scope, which the contact centre's own console holds)."""
        return self.allow_list and principal is not None and not principal.has_scope(OPERATOR_SCOPE)

    async def close(self) -> None:
        """Release the APQ cache's connections (the limiter is closed by its owner)."""
        await self.apq.close()
