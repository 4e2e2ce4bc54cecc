"""``UserError`` and ``ErrorCode``: how expected failures appear in mutation payloads, and
the codes of GraphQL errors (``extensions.code``) for the unexpected and for access."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import strawberry

from gateway import errors as domain

T = TypeVar("T")

ErrorCode = strawberry.enum(
    domain.ErrorCode,
    name="ErrorCode",
    description="Stable machine codes of expected failures; see docs/errors.md.",
)


class GraphQLErrorCode(StrEnum):
    """``extensions.code`` of GraphQL errors (never of payload errors)."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    INTERNAL = "INTERNAL"


@strawberry.type(description="An expected failure of a mutation, shown to the customer.")
class UserError:
    code: domain.ErrorCode = strawberry.field(description="Stable machine code.")
    field: str | None = strawberry.field(
        description="The input field it concerns (camelCase), if any."
    )
    message: str = strawberry.field(description="What to tell the customer, in Russian.")

    @classmethod
    def from_domain(cls, error: domain.DomainError) -> UserError:
        """The payload entry of a domain refusal."""
        return cls(code=error.code, field=error.field, message=error.message)


async def user_errors(action: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a domain action; its refusals become ``UserError`` entries instead of raising."""
    try:
        return await action(), []
    except domain.DomainErrors as exc:
        return None, [UserError.from_domain(e) for e in exc.errors]
    except domain.DomainError as exc:
        return None, [UserError.from_domain(exc)]
