"""``rateLimitInfo``: the caller's own budget."""

from __future__ import annotations

import strawberry

from schema.context import Info
from schema.usage.budget import caller_of
from schema.usage.types import RateLimitInfo


@strawberry.type
class UsageQuery:
    @strawberry.field(
        description="The caller's hourly cost budget: limit, what is left, when it resets."
    )
    async def rate_limit_info(self, info: Info) -> RateLimitInfo:
        usage = info.context.services.access.usage
        return RateLimitInfo.from_usage(await usage.usage(caller_of(info.context)))
