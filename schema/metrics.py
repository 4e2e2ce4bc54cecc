"""Counts every GraphQL operation for ``/metrics`` (name, type, outcome, time)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from schema.context import Context


class OperationMetrics(SchemaExtension):
    """Records each operation in ``services.operations`` once it has run."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context.context
        if not isinstance(context, Context):
            return  # executed outside the app (tests of the bare schema, export-schema)
        result = self.execution_context.result
        if result is None or result.data is None:
            outcome = "refused"  # not executed: parse, validation or limit errors
        else:
            outcome = "errors" if result.errors else "ok"
        operation_type = self.execution_context.operation_type
        context.services.operations.observe(
            self.execution_context.operation_name,
            operation_type.value if operation_type is not None else "unknown",
            outcome,
            time.perf_counter() - started,
        )
