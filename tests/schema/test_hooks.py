"""The planned extension runner (schema/hooks.py) runs every hook kind in Strawberry's order
and with contextlib's error rules: each scenario runs on a stock ``strawberry.Schema`` and on
the gateway's runner, and both must log the same events and give the same answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from schema.hooks import LeanExtensionsRunner, LeanHooksSchema, Plan, plan_of


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "привет"


class LeanSchema(LeanHooksSchema, strawberry.Schema):
    pass


Events = list[str]


def extensions(events: Events, fail: str = "") -> list[Callable[[], SchemaExtension]]:
    """Four extensions, one of each hook kind, logging to ``events``; ``fail`` names a point
    where one of them raises (``name:when``) or swallows the stage's error."""

    def maybe_fail(point: str) -> None:
        if fail == point:
            events.append(f"raise {point}")
            raise ValueError(point)

    class Sync(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            events.append("sync op enter")
            maybe_fail("sync:enter")
            try:
                yield
            except ValueError as error:
                events.append(f"sync op saw {error}")
                if fail == "swallow":
                    events.append("sync op swallows")
                    return
                raise
            events.append("sync op exit")
            maybe_fail("sync:exit")

        def on_execute(self) -> Iterator[None]:
            events.append("sync execute enter")
            yield
            events.append("sync execute exit")
            maybe_fail("execute:exit")

        def get_results(self) -> dict[str, Any]:
            return {"sync": 1}

    class Async(SchemaExtension):
        async def on_operation(self) -> AsyncIterator[None]:
            events.append("async op enter")
            maybe_fail("async:enter")
            try:
                yield
            except ValueError as error:
                events.append(f"async op saw {error}")
                raise
            events.append("async op exit")
            maybe_fail("async:exit")

        async def on_validate(self) -> AsyncIterator[None]:
            events.append("async validate enter")
            yield
            events.append("async validate exit")

    class Plain(SchemaExtension):
        def on_parse(self) -> None:  # type: ignore[override]
            events.append("plain parse")
            maybe_fail("plain:parse")

    class Awaited(SchemaExtension):
        async def on_operation(self) -> None:  # type: ignore[override]
            events.append("awaited op")
            maybe_fail("awaited:op")

        async def get_results(self) -> dict[str, Any]:
            return {"awaited": 2}

    return [Sync, Async, Plain, Awaited]


async def run(schema_class: type[strawberry.Schema], fail: str) -> tuple[Events, Any]:
    events: Events = []
    schema = schema_class(query=Query, extensions=extensions(events, fail))
    try:
        result = await schema.execute("{ hello }")
    except Exception as error:  # noqa: BLE001 - the outcome is compared, whatever it is
        return events, ("raised", type(error).__name__, str(error))
    errors = [error.message for error in result.errors or ()]
    return events, (result.data, errors, result.extensions)


@pytest.mark.parametrize(
    "fail",
    [
        "",
        "sync:exit",
        "async:exit",
        "execute:exit",
        "plain:parse",
        "swallow",
    ],
)
async def test_same_events_and_answer_as_strawberry(fail: str) -> None:
    stock = await run(strawberry.Schema, fail)
    lean = await run(LeanSchema, fail)
    assert lean == stock
    if fail == "":  # the scenario runs every hook, so the comparison above covers them all
        events, answer = lean
        assert answer == ({"hello": "привет"}, [], {"sync": 1, "awaited": 2})
        assert events[:4] == ["sync op enter", "async op enter", "awaited op", "plain parse"]
        assert events[-2:] == ["async op exit", "sync op exit"]


@pytest.mark.parametrize("fail", ["async:enter", "awaited:op"])
async def test_a_hook_failing_on_entry_closes_the_hooks_already_entered(fail: str) -> None:
    """Strawberry leaves them suspended at their ``yield``; the lean stage throws the error
    into them, last entered first. The answer is the same."""
    stock_events, stock_answer = await run(strawberry.Schema, fail)
    events, answer = await run(LeanSchema, fail)
    assert answer == stock_answer == (None, [fail], {"sync": 1, "awaited": 2})
    assert events == [
        *stock_events,
        *([f"async op saw {fail}"] if fail == "awaited:op" else []),
        f"sync op saw {fail}",
    ]


async def test_a_generator_yielding_twice_is_an_error() -> None:
    class Twice(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            yield
            yield

    schema = LeanSchema(query=Query, extensions=[Twice])
    result = schema.execute_sync("{ hello }")  # Strawberry's own stages
    assert [error.message for error in result.errors or ()] == ["generator didn't stop"]
    planned = await schema.execute("{ hello }")  # the planned stages say the same
    assert [error.message for error in planned.errors or ()] == ["generator didn't stop"]


def test_synchronous_execution_runs_synchronous_hooks_and_refuses_async_ones() -> None:
    events: Events = []
    sync, asynchronous, plain, _ = extensions(events)
    result = LeanSchema(query=Query, extensions=[sync, plain]).execute_sync("{ hello }")
    assert result.data == {"hello": "привет"}
    assert events == [
        "sync op enter",
        "plain parse",
        "sync execute enter",
        "sync execute exit",
        "sync op exit",
    ]
    refused = LeanSchema(query=Query, extensions=[asynchronous]).execute_sync("{ hello }")
    stock = strawberry.Schema(query=Query, extensions=[asynchronous]).execute_sync("{ hello }")
    assert refused.data is None
    assert [error.message.split(">.")[-1] for error in refused.errors or ()] == [
        "on_operation failed to complete synchronously."
    ]
    assert [e.message.split(">.")[-1] for e in stock.errors or ()] == [
        e.message.split(">.")[-1] for e in refused.errors or ()
    ]


def test_the_plan_is_worked_out_once_per_tuple_of_classes() -> None:
    events: Events = []
    classes = extensions(events)
    first = plan_of([cls() for cls in classes])
    assert plan_of([cls() for cls in classes]) is first
    assert isinstance(first, Plan)
    assert [index for index, _, _ in first.operation] == [0, 1, 3]
    assert first.results == (0, 3)
    runner = LeanSchema(query=Query, extensions=classes).create_extensions_runner(
        None,  # type: ignore[arg-type]
        [cls() for cls in classes],
    )
    assert isinstance(runner, LeanExtensionsRunner)
