"""The hourly cost budget as a schema extension: every operation, over HTTP or WebSocket,
pays its cost (``schema/limits.py``'s ``measure()``) from its caller's budget before it runs
(``gateway/access/usage.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension

from adapters import freshness
from gateway.access.usage import Caller, LimitExceeded
from schema.asynchronous import on_event_loop
from schema.context import Context
from schema.documents import root_fields
from schema.errors import GraphQLErrorCode
from schema.limits import measure

FREE_FIELDS = frozenset({"rateLimitInfo", "__typename"})
"""Root fields that cost nothing: a client over its budget can still ask when it resets."""


def is_free(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation asks for nothing but :data:`FREE_FIELDS`."""
    roots = root_fields(document, operation_name)
    return roots is not None and roots <= FREE_FIELDS


def caller_of(context: Context) -> Caller:
    """Whose budget a request spends: its API key, else its customer, else its address."""
    return Caller.of(
        user_id=context.viewer.user_id if context.viewer is not None else None,
        key_id=context.principal.key_id if context.principal is not None else None,
        address=context.client.address,
    )


async def pay(context: Context, cost: int) -> LimitExceeded | None:
    """Take ``cost`` from the caller's hourly budget; the refusal when it is spent."""
    try:
        await context.services.access.usage.charge(caller_of(context), cost)
    except LimitExceeded as exceeded:
        return exceeded
    return None


def rate_limited(exceeded: LimitExceeded) -> GraphQLError:
    """The GraphQL error of a refusal by a usage limit: ``RATE_LIMITED``, which limit
    (``rateLimit``), its value, and when to come back (``retryAfter`` seconds, ``resetAt``)."""
    extensions: dict[str, object] = {
        "code": GraphQLErrorCode.RATE_LIMITED.value,
        "rateLimit": exceeded.name,
        "limit": exceeded.limit,
        "retryAfter": int(exceeded.retry_after),
        **exceeded.details,
    }
    if exceeded.reset_at is not None:
        extensions["resetAt"] = exceeded.reset_at.isoformat(timespec="seconds")
    return GraphQLError(exceeded.message, extensions=extensions)


class CostBudget(SchemaExtension):
    """Takes the cost of a request from its caller's hourly budget, or refuses it with
    ``RATE_LIMITED``. Goes after ``QueryCostLimit``: a request refused by a per-request limit
    (or by validation) is not charged."""

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if (
            isinstance(context, Context)
            and not execution.pre_execution_errors
            and execution.graphql_document is not None
            and not is_free(execution.graphql_document, execution.operation_name)
        ):
            report = measure(
                execution.schema._schema,
                execution.graphql_document,
                execution.operation_name,
                execution.variables,
            )
            exceeded = await pay(context, report.cost)
            if exceeded is not None:
                execution.pre_execution_errors = [rate_limited(exceeded)]
            else:
                tracked = freshness.current()
                if tracked is not None:  # a kept answer is charged the same (response cache)
                    tracked.cost = report.cost
        yield


cost_budget = on_event_loop(CostBudget)
"""The extension factory for the schema."""
