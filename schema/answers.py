"""What the response cache (``gateway/http/response_cache.py``) needs to hear from the
schema: which operation ran, whether its answer may be kept, and that a customer's mutation
makes every answer kept for them out of date."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from adapters import freshness
from gateway.http.response_cache import KEPT_ROOTS
from schema.asynchronous import on_event_loop
from schema.context import Context
from schema.documents import root_fields


def asks_only_kept_roots(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation asks for nothing but root fields whose answers may be kept."""
    roots = root_fields(document, operation_name)
    return roots is not None and roots <= KEPT_ROOTS


class Answers(SchemaExtension):
    """Reports the operation to the request's :class:`~adapters.freshness.Freshness`, and
    forgets a customer's kept answers (on every replica) after each mutation of theirs."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        tracked = freshness.current()
        operation_type = execution.operation_type
        if tracked is not None:
            tracked.operation_type = operation_type.value if operation_type else None
            tracked.operation_name = execution.operation_name
            document = execution.graphql_document
            if document is None or not asks_only_kept_roots(document, execution.operation_name):
                tracked.spoil()
        context = execution.context
        if (
            operation_type is OperationType.MUTATION
            and isinstance(context, Context)
            and context.viewer is not None
            and context.services.responses.enabled
        ):
            await context.services.responses.viewers.answers_changed(context.viewer.user_id)


answers = on_event_loop(Answers)
"""The extension factory for the schema."""
