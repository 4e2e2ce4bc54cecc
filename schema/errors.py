"""``UserError`` and ``ErrorCode``: how expected failures appear in mutation payloads, and
the codes of GraphQL errors (``extensions.code``) for the unexpected and for access."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import strawberry
from graphql import GraphQLError

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
    """The request's cost (list sizes multiplied out) is over the budget (``schema/limits.py``)."""
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    """The document nests fields deeper than allowed."""
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    """The document has more aliased fields than allowed."""
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    """The document has more lexical tokens than allowed."""
    PAGE_SIZE_TOO_LARGE = "PAGE_SIZE_TOO_LARGE"
    """A ``first`` (or ``last``) argument asks for more than 100 items."""
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    """The document id is unknown (APQ: send the document with its hash; a partner: register
    the operation with ``lkk apikey allow``)."""
    PERSISTED_QUERY_REQUIRED = "PERSISTED_QUERY_REQUIRED"
    """A partner key sent a document instead of the id of an operation registered for it."""
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    """A persisted-query version other than 1."""
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
    """Schema introspection is off here (production)."""
    BAD_REQUEST = "BAD_REQUEST"
    """Not a well-formed GraphQL-over-HTTP request (malformed JSON, a batch, no document)."""
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    """A mutation over GET, or a method other than GET and POST."""
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    """The Accept header allows neither application/graphql-response+json nor
    application/json."""
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    """A POST body that is not application/json in UTF-8."""
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    """The request body is over ``LKK_MAX_REQUEST_BYTES``."""
    INTERNAL = "INTERNAL"
    BAD_USER_INPUT = "BAD_USER_INPUT"


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


class UpstreamUnavailableError(GraphQLError):
    """A field whose legacy system is down and has nothing cached: that field is null with
    this error, and the rest of the response still renders (partial data)."""

    def __init__(self, system: str) -> None:
        super().__init__(
            "Данные временно недоступны. Попробуйте обновить страницу позже.",
            extensions={"code": GraphQLErrorCode.UPSTREAM_UNAVAILABLE.value, "upstream": system},
        )


class BadArgumentError(GraphQLError):
    """A query argument out of its range (a page size, a cursor, a period)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(
            message,
            extensions={"code": GraphQLErrorCode.BAD_USER_INPUT.value, "argument": argument},
        )


def possible_codes(*names: str) -> str:
    """The sentence listing a mutation's error codes, for its schema description."""
    for name in names:
        domain.ErrorCode(name)  # a typo fails at import, not in a client's hands
    return " Possible error codes: " + ", ".join(names) + "."
