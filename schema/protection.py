"""What the schema tells a client about the gateway itself, and what it keeps to itself.

* **Masked errors.** An exception nobody expected (a bug, a broken store) reaches the client
  as ``Внутренняя ошибка. Код запроса: <request id>`` with ``extensions.code`` ``INTERNAL``
  and the ``requestId``; the details go to the log with that id. Errors of our own codes
  (:class:`GraphQLErrorCode`), errors raised as ``GraphQLError`` on purpose, and graphql-core's
  own parse, validation and variable errors pass through unchanged.
* **No "did you mean".** In production graphql-core's suggestions (``Did you mean 'balance'?``)
  are cut from messages: they spell out the schema to someone guessing at it.
* **No introspection** in production (``INTROSPECTION_DISABLED``); ``__typename`` stays.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    ValidationRule,
    get_named_type,
)
from graphql.language.visitor import SKIP, VisitorAction
from graphql.type import is_introspection_type
from strawberry.extensions import AddValidationRules, SchemaExtension

from gateway.observability import request_id_var
from schema.errors import GraphQLErrorCode

logger = logging.getLogger("gateway.errors")

TYPED_CODES = frozenset(code.value for code in GraphQLErrorCode)
"""``extensions.code`` values that are ours: such errors are never masked."""

_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def internal_message(request_id: str) -> str:
    """What a client is told of an unexpected error."""
    return f"Внутренняя ошибка. Код запроса: {request_id}"


def is_unexpected(error: GraphQLError) -> bool:
    """Whether an error comes from an exception nobody meant the client to see."""
    code = (error.extensions or {}).get("code")
    if code in TYPED_CODES:
        return False
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False  # graphql-core's own errors, or raised on purpose
    # An invalid variable value (a scalar refusing it) points at the document: the
    # client's mistake. Anything else carrying an exception is a failure of ours.
    return not (error.path is None and error.nodes)


def masked(error: GraphQLError, request_id: str | None = None) -> GraphQLError:
    """``error`` as the client may see it (itself, unless it is unexpected); an unexpected
    one is logged with its traceback and the request id."""
    if not is_unexpected(error):
        return error
    request_id = request_id or request_id_var.get() or uuid.uuid4().hex
    original = error.original_error
    logger.error(
        "unexpected error at %s: %s",
        ".".join(str(p) for p in error.path or ()) or "(request)",
        type(original).__name__,
        exc_info=(type(original), original, original.__traceback__) if original else None,
        extra={"request_id": request_id} if not request_id_var.get() else {},
    )
    return GraphQLError(
        internal_message(request_id),
        error.nodes,
        error.source,
        error.positions,
        error.path,
        None,
        {"code": GraphQLErrorCode.INTERNAL.value, "requestId": request_id},
    )


def without_suggestions(error: GraphQLError) -> GraphQLError:
    """``error`` with graphql-core's "Did you mean …?" cut from its message."""
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        error.original_error,
        error.extensions,
    )


class ErrorPolicy(SchemaExtension):
    """Masks unexpected errors and, unless ``suggestions``, cuts the "did you mean" hints
    out of every error of the result. The outermost extension, so that it sees every error
    last."""

    def __init__(self, *, suggestions: bool = True) -> None:
        self.suggestions = suggestions

    def process(self, errors: Sequence[GraphQLError]) -> list[GraphQLError]:
        """The errors as the client may see them."""
        shown = [masked(error) for error in errors]
        return shown if self.suggestions else [without_suggestions(e) for e in shown]

    def on_operation(self) -> Iterator[None]:
        yield
        result: Any = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            result.errors = self.process(result.errors)


class NoIntrospection(ValidationRule):
    """Refuses ``__schema`` and ``__type`` (graphql-core's ``NoSchemaIntrospectionCustomRule``
    with our code and message)."""

    def enter_field(self, node: FieldNode, *_args: object) -> VisitorAction:
        named = get_named_type(self.context.get_type())
        if named is None or not is_introspection_type(named):
            return None
        self.report_error(
            GraphQLError(
                "Интроспекция схемы отключена. Описание API — в документации шлюза.",
                node,
                extensions={"code": GraphQLErrorCode.INTROSPECTION_DISABLED.value},
            )
        )
        return SKIP  # one error for one introspection field, not one per field inside


class OneOperationOrName(SchemaExtension):
    """A document of several operations must name the one to run (the GraphQL spec's
    ``GetOperation``). Strawberry would run the first one: a client would get an answer to
    a question it did not mean to ask."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        # Strawberry reports the first operation's name when none was given; what the
        # client sent is only in this attribute.
        given = getattr(execution, "_provided_operation_name", None)
        if not execution.pre_execution_errors and document is not None and given is None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                execution.pre_execution_errors = [
                    GraphQLError(
                        "В документе несколько операций: укажите нужную в operationName.",
                        extensions={"code": GraphQLErrorCode.BAD_REQUEST.value},
                    )
                ]
        yield


def protection_extensions(
    *, introspection: bool, suggestions: bool
) -> tuple[Callable[[], SchemaExtension], list[Callable[[], SchemaExtension]]]:
    """The error policy (to go first in the schema's extensions) and the validation rules
    (to go after the caches) for the settings' ``introspection`` and ``suggestions``."""
    rules: list[Callable[[], SchemaExtension]] = [OneOperationOrName]
    if not introspection:
        rules.append(lambda: AddValidationRules([NoIntrospection]))
    return (lambda: ErrorPolicy(suggestions=suggestions)), rules
