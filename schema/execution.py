"""graphql-core's executor with a short path for plain fields.

Most fields of a wide answer (a page of readings, a statement's lines) are attributes read
off a record: no resolver, no arguments, no permission. graphql-core still gives each one the
whole treatment: a response path, a resolve-info object, Strawberry's resolver wrapper, two
awaitable checks and a recursive completion through the non-null and list wrappers.
:class:`LeanExecutionContext` reads such a field itself:

- a **scalar or enum** is coerced directly, and no response path is even made for it;
- an **object** (or a list of objects) of a type with no ``is_type_of`` check has its
  sub-selection executed directly, with graphql-core's own error handling at the field's
  and each item's path;
- an object whose sub-selection is **only plain leaves** (a reading, a charge line) is
  completed as a row: its leaves read and coerced in a loop worked out once per operation
  (:func:`_row`), with no response path, sub-field collection or field loop per object.
  The rows are remembered only where the sub-selections are (below).

Anything else, and every case that would end in an error or a null (a missing value, a value
its type cannot send, an exception), takes graphql-core's full path, so answers and errors
are exactly graphql-core's (tests/schema/test_lean_execution.py compares them side by side).

The short path is off whenever an extension wraps resolvers (OpenTelemetry's ``resolve``
hook, when tracing is on): each field must then pass through it. Fields carrying directives
take the full path too (``@stream`` is the executor's business).

graphql-core also collects each object's sub-selections anew for every request (it remembers
them only within one execution), walking the document's selection sets. For a document with
no directives and no fragment arguments what it collects depends on nothing but the document
and the schema, so it is remembered per operation across requests
(:func:`_collections_of`); documents come from the parser cache, so a repeated query is the
same operation object.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import (
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import (
    CollectedFields,
    FieldDetailsList,
    FragmentDetails,
    GroupedFieldSet,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from schema.documents import ByDocument

Read = Callable[[Any, str], Any]


@dataclass(frozen=True, slots=True)
class Leaf:
    """A plain scalar or enum field: the getter, the attribute, the type to coerce to."""

    read: Read
    attribute: str
    type: GraphQLLeafType
    same: Any = None
    """A Python type whose values the scalar sends as they are (``str`` for ``String``)."""
    members: Any = None
    """A Strawberry enum's Python class: its members are sent by ``names``."""
    names: dict[Any, str] | None = None
    """An enum's members and the names it sends for them."""

    @classmethod
    def of(cls, read: Read, attribute: str, leaf: GraphQLLeafType) -> Leaf:
        """The plan of a leaf, with its quickest exact coercion: what the type's own
        ``coerce_output_value`` answers, worked out in advance where it can be."""
        same = _SENT_AS_IS.get(leaf)  # graphql-core's own scalars only, not a schema's String
        names, members_of = None, None
        wrapped: Any = getattr(leaf, "wrapped_cls", None)  # Strawberry's enums
        if isinstance(leaf, GraphQLEnumType) and isinstance(wrapped, enum.EnumMeta):
            members: list[enum.Enum] = list(wrapped)
            names = {member: leaf.coerce_output_value(member) for member in members}
            members_of = wrapped
        return cls(read, attribute, leaf, same, members_of, names)


@dataclass(frozen=True, slots=True)
class Branch:
    """A plain object field, or a plain list of objects: its declared type and that of the
    object (the list's items)."""

    read: Read
    attribute: str
    return_type: GraphQLOutputType
    object_type: GraphQLObjectType
    item_type: GraphQLOutputType | None
    """The list's item type as declared (non-null or not); ``None`` for a single object."""


Plan = Leaf | Branch
_PLANS: weakref.WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], Plan | None]] = (
    weakref.WeakKeyDictionary()
)
_MISS: Any = object()
_SENT_AS_IS: dict[GraphQLLeafType, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
}


def _plan(field: GraphQLField | None) -> Plan | None:
    """How to read ``field`` if Strawberry resolves it as a plain attribute, else ``None``."""
    if field is None or field.args or field.resolve is None:
        return None
    definition = field.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if getattr(field.resolve, "__name__", "") != "_get_basic_result":
        return None  # Strawberry wraps it (exception handlers): keep its resolver
    read, attribute = definition.default_resolver, definition.python_name
    declared = field.type
    inner = declared.of_type if is_non_null_type(declared) else declared
    if is_leaf_type(inner):
        return Leaf.of(read, attribute, inner)
    if is_object_type(inner):
        return _branch(read, attribute, declared, inner, None)
    if is_list_type(inner):
        item_type = inner.of_type
        item = item_type.of_type if is_non_null_type(item_type) else item_type
        if is_object_type(item):
            return _branch(read, attribute, declared, item, item_type)
    return None


def _branch(
    read: Read,
    attribute: str,
    declared: GraphQLOutputType,
    object_type: GraphQLObjectType,
    item_type: GraphQLOutputType | None,
) -> Branch | None:
    if object_type.is_type_of is not None:
        return None  # the check takes resolve info (and may be asynchronous)
    return Branch(read, attribute, declared, object_type, item_type)


Rows = tuple[tuple[str, Leaf], ...]
"""An object's sub-selection when every field of it is a plain leaf: response names and
plans, in the order graphql-core would complete them."""


@dataclass(frozen=True, slots=True)
class Collected:
    """An object's sub-selection as graphql-core collects it, and its leaf rows (``None``
    when any field of it is not a plain leaf)."""

    fields: CollectedFields
    rows: Rows | None


Collections = dict[tuple[Any, ...], Collected]
_COLLECTIONS: ByDocument[Collections | None] = ByDocument()


def _collections_of(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]
) -> Collections | None:
    """The sub-selections collected so far for ``operation`` (keyed by the object type and
    the identities of the field nodes), or ``None`` when what is collected may depend on the
    variables: a directive (``@skip``, ``@include``, ``@defer``) or a fragment with arguments
    anywhere in what the operation runs."""
    return _COLLECTIONS.get((operation,), (), lambda: {} if _static(operation, fragments) else None)


def _static(operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]) -> bool:
    for fragment in fragments.values():
        definition = fragment.definition
        if fragment.variable_signatures or definition.variable_definitions:
            return False
        if definition.directives or not _plain(definition.selection_set):
            return False
    return not operation.directives and _plain(operation.selection_set)


def _plain(selection_set: SelectionSetNode | None) -> bool:
    """No selection under ``selection_set`` carries a directive."""
    if selection_set is None:
        return True
    for selection in selection_set.selections:
        if selection.directives:
            return False
        if isinstance(selection, FieldNode | InlineFragmentNode) and not _plain(
            selection.selection_set
        ):
            return False
    return True


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the short path for plain fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = _PLANS.get(self.schema)
        if plans is None:
            plans = _PLANS[self.schema] = {}
        self._plans = plans
        middleware = self.middleware_manager
        self._lean = middleware is None or not middleware.middlewares
        self._collections: Collections | None = _MISS  # not looked up yet

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        """graphql-core's collection of an object's sub-selections, remembered across
        requests when the operation allows it (:func:`_collections_of`)."""
        collected = self._collected(return_type, field_details_list)
        if collected is None:
            return super().collect_subfields(return_type, field_details_list)
        return collected.fields

    def _collected(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Collected | None:
        """The remembered sub-selection and rows of an object, or ``None`` when the
        operation's collections are not remembered (what is collected may then depend on
        the variables)."""
        collections = self._collections
        if collections is _MISS:
            collections = self._collections = _collections_of(self.operation, self.fragments)
        if collections is None:
            return None
        key = (return_type, *[id(details.node) for details in field_details_list])
        collected = collections.get(key)
        if collected is None:
            fields = super().collect_subfields(return_type, field_details_list)
            collected = collections[key] = Collected(fields, self._leaf_rows(return_type, fields))
        return collected

    def _leaf_rows(self, object_type: GraphQLObjectType, fields: CollectedFields) -> Rows | None:
        grouped_field_set, new_defer_usages, _ = fields
        if new_defer_usages:
            return None
        rows: list[tuple[str, Leaf]] = []
        for response_name, details in grouped_field_set.items():
            node = details[0].node
            plan = self._plan_of(object_type, node.name.value)
            if type(plan) is not Leaf or node.directives or len(details) != 1:
                return None
            rows.append((response_name, plan))
        return tuple(rows)

    def _plan_of(self, parent_type: GraphQLObjectType, name: str) -> Plan | None:
        key = (parent_type.name, name)
        try:
            return self._plans[key]
        except KeyError:
            plan = self._plans[key] = _plan(self.schema.get_field(parent_type, name))
            return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``execute_fields``, with plain fields read on the short path."""
        if not self._lean:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                plan = self._plan_of(parent_type, node.name.value)
                result: Any = _MISS
                if plan is not None and not node.directives and len(field_details_list) == 1:
                    if type(plan) is Leaf:
                        result = _leaf(plan, source_value)
                        if result is not _MISS:  # a scalar: never awaitable
                            results[response_name] = result
                            continue
                    else:
                        result = self._branch(
                            plan,  # type: ignore[arg-type]
                            source_value,
                            field_details_list,
                            Path(path, response_name, type_name),
                            position_context,
                        )
                if result is _MISS:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, type_name),
                        position_context,
                    )
                    if result is Undefined:
                        continue
                results[response_name] = result
                if is_awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        return _settle_into(results, awaitable_fields)

    def _branch(
        self,
        plan: Branch,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """The completed object (or list of objects) of a plain field, or ``_MISS`` for the
        full path. Errors are handled as graphql-core's ``execute_field`` handles them."""
        try:
            value = plan.read(source, plan.attribute)
        except Exception:  # noqa: BLE001 - the full path reads it again and reports it
            return _MISS
        if value is None or isinstance(value, Exception):
            return _MISS
        if plan.item_type is not None:
            is_awaitable = self.is_awaitable
            if not isinstance(value, list | tuple) or any(
                item is None or is_awaitable(item) for item in value
            ):
                return _MISS
        try:
            if plan.item_type is None:
                collected = self._collected(plan.object_type, field_details_list)
                rows = None if collected is None else collected.rows
                completed = _MISS if rows is None else _row(rows, value)
                if completed is not _MISS:
                    pass
                elif collected is None:
                    completed = self.collect_and_execute_subfields(
                        plan.object_type, field_details_list, path, value, position_context
                    )
                else:  # graphql-core's, with what is collected already at hand
                    grouped_field_set, new_defer_usages, _ = collected.fields
                    completed = self.execute_collected_subfields(
                        plan.object_type,
                        value,
                        path,
                        grouped_field_set,
                        new_defer_usages,
                        position_context,
                    )
            else:
                completed = self._items(plan, value, field_details_list, path, position_context)
            if self.is_awaitable(completed):
                return self._settled(completed, plan.return_type, field_details_list, path)
        except Exception as raw_error:  # noqa: BLE001 - as graphql-core's execute_field
            self.handle_field_error(raw_error, plan.return_type, field_details_list, path)
            return None
        return completed

    def _items(
        self,
        plan: Branch,
        items: Sequence[Any],
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``complete_iterable_value`` for items that are objects."""
        item_type = plan.item_type
        assert item_type is not None
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        is_awaitable = self.is_awaitable
        collected = self._collected(plan.object_type, field_details_list)
        rows = None if collected is None else collected.rows
        try:
            for index, item in enumerate(items):
                if rows is not None:
                    row = _row(rows, item)
                    if row is not _MISS:
                        completed.append(row)
                        continue
                item_path = path.add_key(index, None)
                try:
                    result = self.collect_and_execute_subfields(
                        plan.object_type, field_details_list, item_path, item, position_context
                    )
                    if is_awaitable(result):
                        result = self._settled(result, item_type, field_details_list, item_path)
                        awaitable_indices.append(index)
                except Exception as raw_error:  # noqa: BLE001 - as complete_list_item_value
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    result = None
                completed.append(result)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed

        return _settle_into(completed, awaitable_indices)

    async def _settled(
        self,
        awaitable: Any,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await awaitable
        except Exception as raw_error:  # noqa: BLE001 - as graphql-core's await_completed
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None


C = TypeVar("C", dict[str, Any], list[Any])


async def _settle_into(container: C, keys: list[Any]) -> C:
    """Await the awaitables at ``keys`` of ``container`` (a field map or a list) and put
    their values in their places: one directly, several concurrently, as graphql-core does."""
    if len(keys) == 1:
        container[keys[0]] = await container[keys[0]]
    else:
        values = await gather_with_cancel(*(container[key] for key in keys))
        for key, value in zip(keys, values, strict=True):
            container[key] = value
    return container


def _row(rows: Rows, source: Any) -> Any:
    """An object whose fields are all plain leaves, completed, or ``_MISS`` for the full
    path (which reads every field again and reports the error or the null at its path)."""
    completed: dict[str, Any] = {}
    for response_name, plan in rows:
        value = _leaf(plan, source)
        if value is _MISS:
            return _MISS
        completed[response_name] = value
    return completed


def _leaf(plan: Leaf, source: Any) -> Any:
    """The coerced value of a plain scalar or enum field, or ``_MISS`` for the full path
    (which reads it again and reports the error or the null at its path)."""
    try:
        value = plan.read(source, plan.attribute)
        if type(value) is plan.same:
            return value
        if type(value) is plan.members:
            return plan.names[value]  # type: ignore[index]
        if value is None or isinstance(value, Exception):
            return _MISS
        coerced = plan.type.coerce_output_value(value)
    except Exception:  # noqa: BLE001
        return _MISS
    return _MISS if coerced is None or coerced is Undefined else coerced
