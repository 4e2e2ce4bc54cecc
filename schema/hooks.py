"""Strawberry's extension lifecycle, with each hook's wrapper made once per class.

Strawberry runs the hooks of every schema extension around each stage of an operation
(operation, parsing, validation, execution). For every request and every stage it looks
each hook up, inspects what kind of function it is and wraps it in a fresh
``contextlib.contextmanager``: with a dozen extensions that is a few percent of a whole
pass-through request (docs/performance.md). The kind of a hook is a property of the
extension's class, so :class:`CachedHooksSchema` works it out once per class and stage and
only binds the wrapper to the request's extension instance. Order, nesting and error
handling stay Strawberry's own (its context managers and exit stacks are reused as they
are).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

HookFactory = Callable[[SchemaExtension], Any]
"""Makes the (async) context manager of one extension instance's hook."""


_HOOKS: dict[tuple[type[SchemaExtension], str], tuple[HookFactory, bool] | None] = {}


def _hook_of(extension_class: type[SchemaExtension], stage: str) -> tuple[HookFactory, bool] | None:
    """:func:`_wrap`, worked out once per class and stage."""
    key = (extension_class, stage)
    try:
        return _HOOKS[key]
    except KeyError:
        found = _HOOKS[key] = _wrap(extension_class, stage)
        return found


def _wrap(extension_class: type[SchemaExtension], stage: str) -> tuple[HookFactory, bool] | None:
    """The context-manager factory of ``extension_class``'s hook for ``stage`` and whether
    it is asynchronous; ``None`` where the class leaves the stage alone."""
    hook = getattr(extension_class, stage)
    if hook is getattr(SchemaExtension, stage):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    if inspect.iscoroutinefunction(hook):

        @contextlib.asynccontextmanager
        async def awaited(extension: SchemaExtension) -> AsyncIterator[None]:
            await hook(extension)
            yield

        return awaited, True
    if callable(hook):

        @contextlib.contextmanager
        def called(extension: SchemaExtension) -> Iterator[None]:
            hook(extension)
            yield

        return called, False
    raise ValueError(f"Hook {stage} on {extension_class} must be callable, received {hook!r}")


class _CachedHooks:
    """Replaces Strawberry's per-request hook lookup with :func:`_hook_of`."""

    HOOK_NAME: str

    def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
        found = _hook_of(type(extension), self.HOOK_NAME)
        if found is None:
            return None
        factory, is_async = found
        return WrappedHook(extension=extension, hook=partial(factory, extension), is_async=is_async)


class _Operation(_CachedHooks, OperationContextManager):
    pass


class _Parsing(_CachedHooks, ParsingContextManager):
    pass


class _Validation(_CachedHooks, ValidationContextManager):
    pass


class _Executing(_CachedHooks, ExecutingContextManager):
    pass


class CachedHooksRunner(SchemaExtensionsRunner):
    """Strawberry's runner with :class:`_CachedHooks` stages (streamed results, which the
    gateway does not use, keep Strawberry's own)."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)


class CachedHooksSchema:
    """Mixed into a ``strawberry.Schema`` class: its operations use :class:`CachedHooksRunner`."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)
