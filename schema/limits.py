"""Query limits (GW-1): every GraphQL document is measured before it runs, and one that is
too large, too deep, too aliased, asks for too large a page or would cost too much is refused
with its own ``extensions.code`` and a Russian message that names the limit.

Depth, aliases and tokens are counted by Strawberry's maintained limiters; what this module
adds is our error codes and messages, and the cost analysis:

* every field costs 1;
* a field with a page size (``first``, or ``last``) costs ``1 + page size × cost of its
  selection``, so a connection of 100 statements with 10 fields each costs about 1 100 and a
  connection nested in a connection multiplies; a page argument left out counts as its schema
  default, or as :data:`MAX_PAGE_SIZE` when the field has none;
* a page size above :data:`MAX_PAGE_SIZE` is refused outright (``PAGE_SIZE_TOO_LARGE``);
* introspection fields (``__schema``, ``__typename``…) are free.

The limits come from :class:`gateway.settings.Settings` through :func:`limit_extensions`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    ValueNode,
    VariableNode,
    get_named_type,
)
from graphql.language import DocumentNode, OperationDefinitionNode
from graphql.utilities import get_operation_ast
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from schema.documents import ByDocument, variables_key
from schema.errors import GraphQLErrorCode

if TYPE_CHECKING:
    from gateway.settings import Settings

MAX_PAGE_SIZE = 100
"""The largest ``first`` (or ``last``) any connection serves in one request."""

PAGE_ARGUMENTS = ("first", "last")
"""Arguments that set how many items of a list a field returns."""


def _refusal(
    code: GraphQLErrorCode, message: str, nodes: Any = None, **details: object
) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": code.value, **details})


# --- depth and aliases: Strawberry's validation rules, our codes and messages -----------------


def _relabelled(
    rule: type[ValidationRule], refusal: Callable[[GraphQLError], GraphQLError]
) -> type[ValidationRule]:
    """``rule`` reporting ``refusal(error)`` instead of its own error, once per document.

    Strawberry's depth and alias rules do their whole check when constructed and report
    through the validation context, so the context's error callback is swapped for that
    moment only.
    """

    class Relabelled(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            report = context.on_error
            reported: list[GraphQLError] = []

            def relabel(error: GraphQLError) -> None:
                if not reported:  # one clear error, not one per over-deep branch
                    reported.append(error)
                    report(refusal(error))

            context.on_error = relabel  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                context.on_error = report  # type: ignore[method-assign]

    Relabelled.__name__ = Relabelled.__qualname__ = f"Relabelled{rule.__name__}"
    return Relabelled


@cache
def depth_rule(max_depth: int) -> type[ValidationRule]:
    """The validation rule of :class:`QueryDepthLimit`; one class per limit, so that
    Strawberry's ``ValidationCache`` (keyed by the rule classes) keeps hitting."""
    return _relabelled(
        depth_validator(max_depth, None),
        lambda error: _refusal(
            GraphQLErrorCode.QUERY_TOO_DEEP,
            f"Запрос слишком глубокий: вложенность полей превышает {max_depth}.",
            error.nodes,
            limit=max_depth,
        ),
    )


@cache
def alias_rule(max_aliases: int) -> type[ValidationRule]:
    """The validation rule of :class:`AliasLimit` (one class per limit, as :func:`depth_rule`)."""
    return _relabelled(
        alias_validator(max_aliases),
        lambda _error: _refusal(
            GraphQLErrorCode.TOO_MANY_ALIASES,
            f"В запросе слишком много псевдонимов полей: их число превышает {max_aliases}.",
            limit=max_aliases,
        ),
    )


class QueryDepthLimit(AddValidationRules):
    """Refuses a document nested deeper than ``max_depth`` fields (``QUERY_TOO_DEEP``).

    Strawberry's ``QueryDepthLimiter`` does the counting; its rule is built once per limit
    rather than once per request (the limiter itself builds a new rule class every time it
    is constructed, which would defeat the validation cache).
    """

    def __init__(self, max_depth: int) -> None:
        super().__init__([depth_rule(max_depth)])


class AliasLimit(AddValidationRules):
    """Refuses a document with more than ``max_aliases`` aliased fields
    (``TOO_MANY_ALIASES``): aliases are how one request asks for the same costly field many
    times. Strawberry's ``MaxAliasesLimiter`` does the counting."""

    def __init__(self, max_aliases: int) -> None:
        super().__init__([alias_rule(max_aliases)])


# --- tokens: graphql-core's parser limit, our code and message --------------------------------


class QueryTokenLimit(MaxTokensLimiter):
    """Refuses a document of more than ``max_token_count`` lexical tokens
    (``QUERY_TOO_LARGE``) before it is parsed to the end: parsing is the one step that costs
    in proportion to whatever a client sends.

    graphql-core aborts the parse with a syntax error; this extension gives that error our
    code and message. It does so in place, because Strawberry has already put the error in
    the result by the time an extension sees it (``on_parse``), or is raising it out of a
    parser cache (``on_operation``).
    """

    def _relabel(self, error: GraphQLError) -> None:
        limit = self.max_token_count
        overflow = f"Document contains more than {limit} tokens"
        if isinstance(error, GraphQLSyntaxError) and overflow in error.message:
            error.message = f"Запрос слишком большой: число лексем в документе превышает {limit}."
            error.extensions = {"code": GraphQLErrorCode.QUERY_TOO_LARGE.value, "limit": limit}

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_token_count
        try:
            yield
        except GraphQLError as error:  # raised by ParserCache's on_parse
            self._relabel(error)
            raise

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            self._relabel(error)


# --- cost: ours ------------------------------------------------------------------------------


@dataclass
class CostReport:
    """What a document would cost, and the page sizes in it that are over the cap."""

    cost: int = 0
    oversized: list[tuple[FieldNode, str, int]] = field(default_factory=list)
    """``(field, argument, value)`` of every page size above the cap."""


@dataclass
class _CostWalk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    defaults: Mapping[str, Any]
    max_page_size: int
    report: CostReport = field(default_factory=CostReport)
    fragment_costs: dict[str, int] = field(default_factory=dict)

    def selection_cost(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_cost(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment_cost(selection.name.value)
        return total

    def fragment_cost(self, name: str) -> int:
        # Memoized: a fragment spread many times (or fragments spreading each other) is
        # walked once. A cycle (an invalid document) counts as free the second time round.
        if name not in self.fragment_costs:
            self.fragment_costs[name] = 0
            fragment = self.fragments.get(name)
            if fragment is not None:
                parent = self.schema.get_type(fragment.type_condition.name.value)
                self.fragment_costs[name] = self.selection_cost(fragment.selection_set, parent)
        return self.fragment_costs[name]

    def field_cost(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        if node.name.value.startswith("__"):
            return 0
        definition: GraphQLField | None = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(node.name.value)
        child = get_named_type(definition.type) if definition is not None else None
        children = self.selection_cost(node.selection_set, child)
        return 1 + self.page_size(node, definition) * children

    def page_size(self, node: FieldNode, definition: GraphQLField | None) -> int:
        """How many items the field returns at most, as far as the request says: the page
        argument given, else its schema default, else a full page; 1 for other fields."""
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        for name in PAGE_ARGUMENTS:
            if name in given:
                value = self.argument_value(given[name])
                if value is None:
                    return self.max_page_size  # null: the server's default page, at most full
                if value > self.max_page_size:
                    self.report.oversized.append((node, name, value))
                return max(value, 0)
        declared = definition.args if definition is not None else {}
        defaults = [declared[name].default_value for name in PAGE_ARGUMENTS if name in declared]
        if not defaults:
            return 1
        value = _as_int(defaults[0])
        return self.max_page_size if value is None else min(max(value, 0), self.max_page_size)

    def argument_value(self, node: ValueNode) -> int | None:
        """An integer argument's value in this request (a literal or a variable), if any."""
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            name = node.name.value
            return _as_int(self.variables.get(name, self.defaults.get(name)))
        return None


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_MEASURED: ByDocument[CostReport] = ByDocument()


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    max_page_size: int = MAX_PAGE_SIZE,
) -> CostReport:
    """The cost of the operation a request runs (see the module's docstring), and its page
    sizes over ``max_page_size``. An operation that cannot be chosen costs nothing here:
    execution refuses it anyway.

    Reports are remembered per document, operation and variables (the most recent 1024):
    the parser cache hands back the same document for the same text, most clients send a
    few documents, and each request is measured twice (the limit, then the budget). Treat
    the report as read-only."""
    shown = variables_key(variables)
    if shown is None:
        return _measure(schema, document, operation_name, variables, max_page_size)
    return _MEASURED.get(
        (schema, document),
        (operation_name, shown, max_page_size),
        lambda: _measure(schema, document, operation_name, variables, max_page_size),
    )


def _measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    max_page_size: int,
) -> CostReport:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return CostReport()
    walk = _CostWalk(
        schema=schema,
        fragments={
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        },
        variables=variables or {},
        defaults=_variable_defaults(operation),
        max_page_size=max_page_size,
    )
    root = schema.get_root_type(operation.operation)
    walk.report.cost = walk.selection_cost(operation.selection_set, root)
    return walk.report


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    return {
        definition.variable.name.value: int(definition.default_value.value)
        for definition in operation.variable_definitions or ()
        if isinstance(definition.default_value, IntValueNode)
    }


class QueryCostLimit(SchemaExtension):
    """Refuses a request whose page sizes are over :data:`MAX_PAGE_SIZE`
    (``PAGE_SIZE_TOO_LARGE``) or whose cost is over ``max_cost`` (``QUERY_TOO_COMPLEX``).

    The cost depends on the variables, so it is measured per request, in ``on_validate``
    before the document runs. It must come after ``ValidationCache`` in the schema's
    extensions (that extension replaces the validation result wholesale); then a document
    that failed validation is left to its validation errors. Without a validation cache the
    cost is measured first, on the parsed document.
    """

    def __init__(self, max_cost: int, max_page_size: int = MAX_PAGE_SIZE) -> None:
        self.max_cost = max_cost
        self.max_page_size = max_page_size

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors and context.graphql_document is not None:
            refusal = self.refusal(
                measure(
                    context.schema._schema,
                    context.graphql_document,
                    context.operation_name,
                    context.variables,
                    max_page_size=self.max_page_size,
                )
            )
            if refusal is not None:
                # a new list: the one there may be ValidationCache's cached result
                context.pre_execution_errors = [refusal]
        yield

    def refusal(self, report: CostReport) -> GraphQLError | None:
        """The error that refuses a request so measured, or None when it may run."""
        if report.oversized:
            node, argument, value = report.oversized[0]
            name = node.name.value
            return _refusal(
                GraphQLErrorCode.PAGE_SIZE_TOO_LARGE,
                f"Слишком большая страница в поле «{name}»: {argument} = {value}, "
                f"допускается не более {self.max_page_size}.",
                node,
                field=name,
                argument=argument,
                limit=self.max_page_size,
            )
        if report.cost > self.max_cost:
            return _refusal(
                GraphQLErrorCode.QUERY_TOO_COMPLEX,
                f"Запрос слишком сложный: его стоимость {report.cost} превышает допустимую "
                f"{self.max_cost}. Запросите меньше записей (аргумент first) или разделите "
                "запрос на несколько.",
                cost=report.cost,
                limit=self.max_cost,
            )
        return None


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """The query limits of ``settings`` as extension factories for ``strawberry.Schema``
    (one instance of each per request). Put them after the parser and validation caches."""
    return [
        partial(QueryTokenLimit, settings.max_query_tokens),
        partial(QueryDepthLimit, settings.max_query_depth),
        partial(AliasLimit, settings.max_aliases),
        partial(QueryCostLimit, settings.max_query_cost),
    ]
