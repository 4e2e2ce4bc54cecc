"""Validation results remembered per parsed document.

Strawberry's ``ValidationCache`` keys its LRU on the document itself, and hashing a
``DocumentNode`` walks the whole tree on every request — on a warm dashboard that cost more
than the validation of a small query (docs/performance.md). Documents come from the parser
cache, so the same query text is the same object: here the key is the object's identity, and
the entry keeps the object itself so that an id reused after eviction can never match.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from graphql import ASTValidationRule, DocumentNode, FieldNode, GraphQLError, GraphQLSchema
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


@dataclass(frozen=True, slots=True)
class _Validated:
    schema: GraphQLSchema
    document: DocumentNode
    rules: tuple[type[ASTValidationRule], ...]
    errors: list[GraphQLError]


class ValidatedDocuments:
    """A bounded LRU of validation results by document identity."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[int, _Validated] = OrderedDict()

    def errors(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Sequence[type[ASTValidationRule]],
    ) -> list[GraphQLError]:
        """The validation errors of ``document`` (none for a valid one)."""
        key = id(document)
        rules = tuple(rules)
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry.document is document
            and entry.schema is schema
            and entry.rules == rules
        ):
            self._entries.move_to_end(key)
            return entry.errors
        errors = validate_document(schema, document, rules)
        self._entries[key] = _Validated(schema, document, rules, errors)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return errors


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


_ROOTS: OrderedDict[tuple[int, str | None], tuple[DocumentNode, frozenset[str] | None]] = (
    OrderedDict()
)
_ROOTS_MAX = 1024


def root_fields(document: DocumentNode, operation_name: str | None) -> frozenset[str] | None:
    """The names of the root selections of the operation a request runs (None: no such
    operation, or it spreads a fragment at its root). Remembered per document identity, like
    validation: several extensions ask on every request (the free budget fields, the response
    cache's kept roots)."""
    key = (id(document), operation_name)
    found = _ROOTS.get(key)
    if found is not None and found[0] is document:
        _ROOTS.move_to_end(key)
        return found[1]
    operation = get_operation_ast(document, operation_name)
    names: frozenset[str] | None = None
    if operation is not None and all(
        isinstance(selection, FieldNode) for selection in operation.selection_set.selections
    ):
        names = frozenset(
            selection.name.value
            for selection in operation.selection_set.selections
            if isinstance(selection, FieldNode)
        )
    _ROOTS[key] = (document, names)  # holding the document keeps its id unique
    if len(_ROOTS) > _ROOTS_MAX:
        _ROOTS.popitem(last=False)
    return names
