"""Validation results remembered per parsed document.

Strawberry's ``ValidationCache`` keys its LRU on the document itself, and hashing a
``DocumentNode`` walks the whole tree on every request — on a warm dashboard that cost more
than the validation of a small query (docs/performance.md). Documents come from the parser
cache, so the same query text is the same object: here the key is the object's identity, and
the entry keeps the object itself so that an id reused after eviction can never match.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import orjson
from graphql import ASTValidationRule, DocumentNode, FieldNode, GraphQLError, GraphQLSchema
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

T = TypeVar("T")


class ByDocument(Generic[T]):
    """A bounded LRU of what was worked out for a parsed document (by identity), under extra
    key parts. An entry holds the objects it was keyed by, so that an id reused after they
    are gone can never match."""

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[Hashable, ...], tuple[tuple[object, ...], T]] = (
            OrderedDict()
        )

    def get(
        self, held: tuple[object, ...], extra: tuple[Hashable, ...], work: Callable[[], T]
    ) -> T:
        """What ``work`` gives for the objects ``held`` (compared by identity) and ``extra``
        (by value), worked out once."""
        key = (*(id(item) for item in held), *extra)
        found = self._entries.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], held, strict=True)):
            self._entries.move_to_end(key)
            return found[1]
        value = work()
        self._entries[key] = (held, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value


class ValidatedDocuments:
    """Validation results by document identity (the schema and rules by identity and value)."""

    def __init__(self, maxsize: int = 512) -> None:
        self._results: ByDocument[list[GraphQLError]] = ByDocument(maxsize)

    def errors(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Sequence[type[ASTValidationRule]],
    ) -> list[GraphQLError]:
        """The validation errors of ``document`` (none for a valid one)."""
        rules = tuple(rules)
        return self._results.get(
            (schema, document), (rules,), lambda: validate_document(schema, document, rules)
        )


class DocumentValidationCache(SchemaExtension):
    """Validates each parsed document once (use after ``ParserCache``)."""

    def __init__(self, documents: ValidatedDocuments) -> None:
        super().__init__()
        self.documents = documents

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = self.documents.errors(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield


_ROOTS: ByDocument[frozenset[str] | None] = ByDocument()


def root_fields(document: DocumentNode, operation_name: str | None) -> frozenset[str] | None:
    """The names of the root selections of the operation a request runs (None: no such
    operation, or it spreads a fragment at its root). Remembered per document, like
    validation: several extensions ask on every request (the free budget fields, the response
    cache's kept roots)."""
    return _ROOTS.get((document,), (operation_name,), lambda: _roots(document, operation_name))


def _roots(document: DocumentNode, operation_name: str | None) -> frozenset[str] | None:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    selections = operation.selection_set.selections
    names = [selection.name.value for selection in selections if isinstance(selection, FieldNode)]
    return frozenset(names) if len(names) == len(selections) else None


_last_variables: tuple[object, str | None] = (None, "")


def variables_key(variables: Mapping[str, Any] | None) -> str | None:
    """A request's variables as canonical JSON ("" for none; None when they cannot be shown
    as JSON), to key what is remembered per request shape. Each request asks several times
    (its cost is measured twice, the response cache keys on it) with the same dict: the last
    answer is kept, holding the dict so that its identity stays its own."""
    global _last_variables
    if not variables:
        return ""
    if _last_variables[0] is variables:
        return _last_variables[1]
    try:
        shown: str | None = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError: not JSON (a key that is not a string, ...)
        shown = None
    _last_variables = (variables, shown)
    return shown
