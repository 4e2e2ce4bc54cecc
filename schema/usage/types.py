"""Types of the usage budget."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from gateway.access.usage import CallerKind, Usage


@strawberry.enum(description="Whose budget a request spends.")
class RateLimitSubject(Enum):
    CUSTOMER = strawberry.enum_value(
        CallerKind.CUSTOMER.value, description="The signed-in customer."
    )
    API_KEY = strawberry.enum_value(
        CallerKind.API_KEY.value, description="The partner's or operator's API key."
    )
    CLIENT_ADDRESS = strawberry.enum_value(
        CallerKind.CLIENT_ADDRESS.value,
        description="The client's network address (requests without credentials).",
    )


@strawberry.type(
    description=(
        "The caller's hourly cost budget. Every request costs what the query limits count "
        "(each field 1, a list times its page size) and is charged before it runs; a request "
        "that would overdraw the budget is refused whole with RATE_LIMITED. Asking for "
        "rateLimitInfo alone costs nothing."
    )
)
class RateLimitInfo:
    subject: RateLimitSubject = strawberry.field(description="Whose budget this is.")
    limit: int = strawberry.field(description="Cost units per window.")
    remaining: int = strawberry.field(description="Cost units left in the current window.")
    reset_at: datetime | None = strawberry.field(
        description="When the current window ends and the budget is whole again; null when "
        "no window is open."
    )
    window_seconds: int = strawberry.field(description="Length of a window in seconds (3600).")
    requests_per_minute: int | None = strawberry.field(
        description="Requests per minute the API key may send; null without an API key."
    )
    requests_remaining: int | None = strawberry.field(
        description="Requests the API key may still send in the current minute; null without "
        "an API key."
    )

    @classmethod
    def from_usage(cls, usage: Usage) -> RateLimitInfo:
        """Map the service's record to the public type."""
        return cls(
            subject=RateLimitSubject(usage.caller.kind.value),
            limit=usage.limit,
            remaining=usage.remaining,
            reset_at=usage.reset_at,
            window_seconds=usage.window_seconds,
            requests_per_minute=usage.requests_per_minute,
            requests_remaining=usage.requests_remaining,
        )
