"""graphql-core's executor with a short path for the plainest fields.

Most fields of a wide answer (a page of readings, a statement's lines) are attributes read
off a record and sent as a scalar or an enum: no resolver, no arguments, no permission.
graphql-core still gives each one the whole treatment: a resolve-info object, Strawberry's
resolver wrapper, two awaitable checks and a recursive completion through the non-null
wrapper. :class:`LeanExecutionContext` reads such a field and coerces its value directly,
and hands everything else, and every case that would end in an error or a null, to the
full path, so answers and errors are exactly graphql-core's (docs/performance.md).

The short path is off whenever an extension wraps resolvers (OpenTelemetry's ``resolve``
hook, when tracing is on): each field must then pass through it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
    is_non_null_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

Plan = tuple[Callable[[Any, str], Any], str, GraphQLLeafType]
"""How to read a plain field: the getter, the attribute's name, the scalar or enum type."""

_PLANS: weakref.WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], Plan | None]] = (
    weakref.WeakKeyDictionary()
)


def _plan(field: GraphQLField | None) -> Plan | None:
    """The plan of ``field`` if Strawberry resolves it as a plain attribute of a scalar or
    enum type, else ``None``."""
    if field is None or field.args or field.resolve is None:
        return None
    definition = field.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if getattr(field.resolve, "__name__", "") != "_get_basic_result":
        return None  # Strawberry wraps it (exception handlers): keep its resolver
    leaf = field.type.of_type if is_non_null_type(field.type) else field.type
    if not is_leaf_type(leaf):
        return None
    return definition.default_resolver, definition.python_name, leaf


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the short path for plain leaf fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = _PLANS.get(self.schema)
        if plans is None:
            plans = _PLANS[self.schema] = {}
        self._plans = plans
        middleware = self.middleware_manager
        self._lean = middleware is None or not middleware.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        if self._lean:
            name = field_details_list[0].node.name.value
            key = (parent_type.name, name)
            try:
                plan = self._plans[key]
            except KeyError:
                plan = self._plans[key] = _plan(self.schema.get_field(parent_type, name))
            if plan is not None:
                read, attribute, leaf = plan
                try:
                    value = read(source, attribute)
                    coerced = (
                        None
                        if value is None or isinstance(value, Exception)
                        else leaf.coerce_output_value(value)
                    )
                except Exception:  # noqa: BLE001 - the full path below raises it again and
                    coerced = None  # reports it as this field's error, with its path
                if coerced is not None and coerced is not Undefined:
                    return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
