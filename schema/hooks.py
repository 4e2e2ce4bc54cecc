"""Strawberry's extension lifecycle, run without its per-request machinery.

Strawberry runs the hooks of every schema extension around each stage of an operation
(operation, parsing, validation, execution). For every request and every stage it looks each
hook up on each extension, inspects what kind of function it is, wraps it in a fresh
``contextlib`` context manager and enters them all on an exit stack: with a dozen extensions
that was most of the pipeline's own cost (44 hook look-ups, ~30 context-manager objects and
four exit stacks per request; docs/performance.md).

Which hooks a set of extension classes has, and of what kind, does not change between
requests. :class:`LeanExtensionsRunner` works it out once per tuple of extension classes
(:func:`plan_of`) and runs each stage as a plain loop over the hooks that exist: a generator
hook is advanced to its ``yield`` on entering the stage and resumed (or has the stage's error
thrown into it) on leaving, last entered first, with ``contextlib``'s rules: an error raised
by a hook while leaving replaces the stage's error and is thrown into the hooks still open; a
hook that swallows the error suppresses it; a generator that yields twice is an error. Unlike
Strawberry's stack, a hook failing on entry first closes the hooks already entered (with that
error), so no generator is left suspended.

Synchronous execution (``execute_sync``: tools and tests, never a request) and streamed
results (``on_stream_result``), which the gateway does not use, keep Strawberry's own context
managers.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.utils.await_maybe import await_maybe


class Kind(Enum):
    """What a hook is, which says how it is entered and left."""

    GENERATOR = "generator"  # code before ``yield`` on entry, after it on exit
    ASYNC_GENERATOR = "async generator"
    FUNCTION = "function"  # runs on entry only
    COROUTINE = "coroutine"


Hook = tuple[int, Kind, Callable[[SchemaExtension], Any]]
"""One hook of a stage: the index of its extension in the request's list, its kind, the
unbound function."""

STAGES = ("on_operation", "on_parse", "on_validate", "on_execute")


def kind_of(extension_class: type[SchemaExtension], stage: str) -> Kind | None:
    """The kind of ``extension_class``'s hook for ``stage``; ``None`` where the class leaves
    the stage to :class:`SchemaExtension` (no hook)."""
    hook = getattr(extension_class, stage)
    if hook is getattr(SchemaExtension, stage):
        return None
    if inspect.isgeneratorfunction(hook):
        return Kind.GENERATOR
    if inspect.isasyncgenfunction(hook):
        return Kind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(hook):
        return Kind.COROUTINE
    if callable(hook):
        return Kind.FUNCTION
    raise ValueError(f"Hook {stage} on {extension_class} must be callable, received {hook!r}")


@dataclass(frozen=True, slots=True)
class Plan:
    """The hooks of one tuple of extension classes, per stage, in the extensions' order."""

    operation: tuple[Hook, ...]
    parsing: tuple[Hook, ...]
    validation: tuple[Hook, ...]
    executing: tuple[Hook, ...]
    results: tuple[int, ...]
    """The extensions whose class reports results (``get_results``) into the answer."""

    @classmethod
    def of(cls, classes: Sequence[type[SchemaExtension]]) -> Plan:
        stages: list[tuple[Hook, ...]] = []
        for stage in STAGES:
            hooks: list[Hook] = []
            for index, extension_class in enumerate(classes):
                kind = kind_of(extension_class, stage)
                if kind is not None:
                    hooks.append((index, kind, getattr(extension_class, stage)))
            stages.append(tuple(hooks))
        results = tuple(
            index
            for index, extension_class in enumerate(classes)
            if extension_class.get_results is not SchemaExtension.get_results
        )
        operation, parsing, validation, executing = stages
        return cls(operation, parsing, validation, executing, results)


_PLANS: dict[tuple[type[SchemaExtension], ...], Plan] = {}


def plan_of(extensions: Sequence[SchemaExtension]) -> Plan:
    """The :class:`Plan` of these extensions' classes, worked out once per tuple of classes."""
    classes = tuple(map(type, extensions))
    try:
        return _PLANS[classes]
    except KeyError:
        plan = _PLANS[classes] = Plan.of(classes)
        return plan


Opened = tuple[Generator[Any, None, None] | AsyncGenerator[Any, None], bool]
"""A generator hook suspended at its ``yield``, and whether it is asynchronous."""


class Stage:
    """One stage's hooks over one request's extensions, as a (mostly async) context manager."""

    __slots__ = ("_extensions", "_hooks", "_opened", "_sync", "_sync_class")

    def __init__(
        self,
        hooks: tuple[Hook, ...],
        extensions: Sequence[SchemaExtension],
        sync_class: type[ExtensionContextManagerBase],
    ) -> None:
        self._hooks = hooks
        self._extensions = extensions
        self._opened: list[Opened] = []
        self._sync_class = sync_class

    async def __aenter__(self) -> None:
        extensions, opened = self._extensions, self._opened
        try:
            for index, kind, hook in self._hooks:
                if kind is Kind.GENERATOR:
                    generator = hook(extensions[index])
                    _started(next(generator, _STOPPED))
                    opened.append((generator, False))
                elif kind is Kind.ASYNC_GENERATOR:
                    agenerator = hook(extensions[index])
                    _started(await anext(agenerator, _STOPPED))
                    opened.append((agenerator, True))
                elif kind is Kind.COROUTINE:
                    await hook(extensions[index])
                else:
                    hook(extensions[index])
        except BaseException as error:
            await self._leave(error)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return await self._leave(exc_value)

    def __enter__(self) -> None:
        """The synchronous stage (``execute_sync``: tools and tests, never a request) is
        Strawberry's own context manager, which refuses asynchronous hooks."""
        self._sync = self._sync_class(list(self._extensions))
        self._sync.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._sync.__exit__(exc_type, exc_value, traceback)

    async def _leave(self, error: BaseException | None) -> bool:
        """Resume the opened hooks, last first; whether ``error`` was suppressed. Raises the
        error a hook raised instead."""
        pending, opened = error, self._opened
        while opened:
            generator, is_async = opened.pop()
            try:
                if is_async and pending is None:
                    await generator.__anext__()  # type: ignore[union-attr]
                elif is_async:
                    await generator.athrow(pending)  # type: ignore[union-attr,arg-type]
                elif pending is None:
                    next(generator)  # type: ignore[arg-type]
                else:
                    generator.throw(pending)  # type: ignore[union-attr]
            except (StopIteration, StopAsyncIteration):
                pending = None  # finished, or swallowed the error
            except BaseException as raised:  # noqa: BLE001 - it becomes the stage's error
                pending = raised
            else:
                pending = RuntimeError("generator didn't stop")
        return _outcome(error, pending)


_STOPPED = object()


def _started(first: object) -> None:
    if first is _STOPPED:
        raise RuntimeError("generator didn't yield")


def _outcome(error: BaseException | None, pending: BaseException | None) -> bool:
    """``True`` when the hooks swallowed ``error``; raises a different error they raised."""
    if pending is None:
        return error is not None
    if pending is error:
        return False
    raise pending


class LeanExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner with planned :class:`Stage` s and results only from the extensions
    that report any."""

    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> None:
        super().__init__(execution_context=execution_context, extensions=extensions)
        self.plan = plan_of(extensions)

    def operation(self) -> Stage:  # type: ignore[override]
        return Stage(self.plan.operation, self.extensions, OperationContextManager)

    def parsing(self) -> Stage:  # type: ignore[override]
        return Stage(self.plan.parsing, self.extensions, ParsingContextManager)

    def validation(self) -> Stage:  # type: ignore[override]
        return Stage(self.plan.validation, self.extensions, ValidationContextManager)

    def executing(self) -> Stage:  # type: ignore[override]
        return Stage(self.plan.executing, self.extensions, ExecutingContextManager)

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for index in self.plan.results:
            data.update(await await_maybe(self.extensions[index].get_results()))
        data.update(ctx.extensions_results)
        return data

    def get_extensions_results_sync(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for index in self.plan.results:
            extension = self.extensions[index]
            if inspect.iscoroutinefunction(extension.get_results):
                raise RuntimeError("Cannot use async extension hook during sync execution")
            data.update(extension.get_results())  # type: ignore[arg-type]
        return data


class LeanHooksSchema:
    """Mixed into a ``strawberry.Schema`` class: its operations use
    :class:`LeanExtensionsRunner`."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return LeanExtensionsRunner(execution_context=execution_context, extensions=extensions)
