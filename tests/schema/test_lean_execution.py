"""The executor's short path for plain fields answers exactly as graphql-core's full path:
the same data, and the same errors at the same paths when a plain field cannot be sent."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from graphql.execution import executor as executor_module
from graphql.execution.collect_fields import collect_subfields
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import _PLANS, Branch, Leaf, LeanExecutionContext


@strawberry.enum
class Zone(enum.Enum):
    DAY = "day"
    NIGHT = "night"


@dataclass
class Reading:
    day: Any
    zone: Any
    value: Any
    note: Any = None

    @property
    def broken(self) -> str:
        raise RuntimeError("no such reading")


@strawberry.type
class ReadingType:
    day: date
    zone: Zone
    value: Decimal
    note: str | None
    broken: str


@strawberry.type
class Query:
    @strawberry.field
    def readings(self) -> list[ReadingType]:
        return [
            Reading(date(2026, 11, 1), Zone.DAY, Decimal("15665.7"), "ok"),  # type: ignore[list-item]
            Reading(None, Zone.NIGHT, Decimal("1"), None),  # type: ignore[list-item]
            Reading(date(2026, 10, 1), "dusk", Decimal("2")),  # type: ignore[list-item]
            Reading(date(2026, 9, 1), Zone.DAY, "not a number"),  # type: ignore[list-item]
        ]


def _schema(execution: type[StrawberryGraphQLCoreExecutionContext], **options: Any) -> Any:
    return strawberry.Schema(query=Query, execution_context_class=execution, **options)


QUERIES = [
    "{ readings { day zone value note } }",
    "{ readings { day zone value note broken } }",
    "{ readings { note zone } }",
    "{ a: readings { day } b: readings { zone __typename } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_the_short_path_answers_as_the_full_path(query: str) -> None:
    # given
    lean, full = _schema(LeanExecutionContext), _schema(StrawberryGraphQLCoreExecutionContext)

    # when
    fast = await lean.execute(query)
    slow = await full.execute(query)

    # then
    assert fast.data == slow.data
    assert [e.formatted for e in fast.errors or ()] == [e.formatted for e in slow.errors or ()]
    plans = _PLANS[lean._schema]  # the short path was taken: plain fields have a plan
    assert any(plan is not None for (kind, _), plan in plans.items() if kind == "ReadingType")
    assert plans[("Query", "readings")] is None  # a resolver: the full path


async def test_plain_fields_that_cannot_be_sent_are_errors_at_their_paths() -> None:
    # when
    null_day = await _schema(LeanExecutionContext).execute("{ readings { day } }")
    bad_zone = await _schema(LeanExecutionContext).execute("{ readings { zone } }")

    # then: a non-null field that is null, or a value its type cannot send, fails its
    # list item, and so the whole (non-null) list
    assert null_day.data is None
    assert [(e.message, e.path) for e in null_day.errors or ()] == [
        ("Cannot return null for non-nullable field ReadingType.day.", ["readings", 1, "day"])
    ]
    assert bad_zone.data is None
    assert [e.path for e in bad_zone.errors or ()] == [["readings", 2, "zone"]]


async def test_with_an_extension_wrapping_resolvers_every_field_passes_through_it() -> None:
    # given
    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    schema = _schema(LeanExecutionContext, extensions=[Watch])

    # when
    await schema.execute("{ readings { note } }")

    # then
    assert seen == ["readings"] + ["note"] * 4


# --- objects and lists of objects on the short path ---------------------------------------


@dataclass
class Holder:
    """What a resolver returns: plain object and list fields, some of them broken."""

    first: Any
    maybe: Any
    items: Any
    loose: Any


@strawberry.type
class Box:
    label: str

    @strawberry.field
    async def later(self) -> str:
        if self.label == "boom":
            raise RuntimeError("later failed")
        return self.label.upper()

    @strawberry.field
    async def later_or_none(self) -> str | None:
        if self.label == "boom":
            raise RuntimeError("later failed")
        return self.label


@strawberry.type
class HolderType:
    first: Box
    maybe: Box | None
    items: list[Box]
    loose: list[Box | None] | None


def _box(label: Any) -> Box:
    return Box(label=label)


def holders() -> dict[str, Holder]:
    """Fresh every time: the odd holder's generator is used up by one execution."""
    return {
        "fine": Holder(_box("a"), _box("b"), [_box("c"), _box("d")], [_box("e")]),
        "broken": Holder(
            _box(None), None, [_box("c"), _box(None)], [_box(None), None, _box("boom")]
        ),
        "boom": Holder(_box("boom"), _box("boom"), [_box("boom"), _box("x")], [_box("boom")]),
        "odd": Holder(_box("a"), "not a box", "not a list", (b for b in [_box("g")])),
    }


@strawberry.type
class HolderQuery:
    @strawberry.field
    def holder(self, kind: str) -> HolderType | None:
        return holders()[kind]  # type: ignore[return-value]


HOLDER_QUERIES = [
    "{ holder(kind: $kind) { first { label } maybe { label } items { label } loose { label } } }",
    "{ holder(kind: $kind) { first { later } items { later label } } }",
    "{ holder(kind: $kind) { loose { laterOrNone } maybe { laterOrNone } } }",
    "{ holder(kind: $kind) { items { label } again: items { later } } }",
    "{ holder(kind: $kind) { maybe { label } items @include(if: true) { label } } }",
]


@pytest.mark.parametrize("kind", sorted(holders()))
@pytest.mark.parametrize("query", HOLDER_QUERIES)
async def test_objects_and_lists_answer_as_the_full_path(kind: str, query: str) -> None:
    # given
    document = "query($kind: String!) " + query

    def schema(execution: type[StrawberryGraphQLCoreExecutionContext]) -> Any:
        return strawberry.Schema(query=HolderQuery, execution_context_class=execution)

    lean = schema(LeanExecutionContext)

    # when
    fast = await lean.execute(document, variable_values={"kind": kind})
    slow = await schema(StrawberryGraphQLCoreExecutionContext).execute(
        document, variable_values={"kind": kind}
    )

    # then: the same data and the same errors at the same paths
    assert fast.data == slow.data
    assert [e.formatted for e in fast.errors or ()] == [e.formatted for e in slow.errors or ()]
    assert any(isinstance(plan, Branch) for plan in _PLANS[lean._schema].values())


async def test_object_and_list_fields_have_plans_and_resolvers_do_not() -> None:
    schema = strawberry.Schema(query=HolderQuery, execution_context_class=LeanExecutionContext)
    await schema.execute('{ holder(kind: "fine") { first { label } items { label } } }')
    plans = _PLANS[schema._schema]
    first, items = plans[("HolderType", "first")], plans[("HolderType", "items")]
    assert isinstance(first, Branch)
    assert first.item_type is None  # a single object
    assert isinstance(items, Branch)
    assert items.item_type is not None  # a list of objects
    assert isinstance(plans[("Box", "label")], Leaf)
    assert plans[("HolderQuery", "holder")] is None


async def test_strings_and_enums_are_sent_by_their_quickest_exact_coercion() -> None:
    schema = _schema(LeanExecutionContext)
    await schema.execute("{ readings { zone note } }")
    plans = _PLANS[schema._schema]
    zone, note = plans[("ReadingType", "zone")], plans[("ReadingType", "note")]
    assert isinstance(zone, Leaf)
    assert isinstance(note, Leaf)
    assert note.same is str
    assert zone.members is Zone
    # each member's name is what the enum type itself sends for it
    assert zone.names == {member: zone.type.coerce_output_value(member) for member in Zone}


# --- sub-selections collected once per operation ------------------------------------------


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Person(Named):
    age: int


@strawberry.type
class Company(Named):
    staff: list[Person]


@strawberry.type
class DirectoryQuery:
    @strawberry.field
    def entries(self) -> list[Named]:
        ann = Person(name="Ann", age=30)
        return [ann, Company(name="Volt", staff=[ann]), Person(name="Bob", age=41)]


DIRECTORY = (
    "{ entries { name ...Ages ... on Company { staff { ...Ages } } } } "
    "fragment Ages on Person { age }"
)


def _directory(execution: type[StrawberryGraphQLCoreExecutionContext]) -> Any:
    return strawberry.Schema(
        query=DirectoryQuery,
        types=[Person, Company],
        execution_context_class=execution,
        extensions=[lambda: ParserCache(maxsize=16)],  # the same text, the same document
    )


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The object types graphql-core walks the document for, one entry per collection."""
    walked: list[str] = []
    original = collect_subfields  # what graphql-core's executor module calls by this name

    def counted(*args: Any) -> Any:
        walked.append(args[4].name)  # the return type
        return original(*args)

    monkeypatch.setattr(executor_module, "collect_subfields", counted)
    return walked


async def test_a_repeated_operation_collects_its_sub_selections_once(
    collections: list[str],
) -> None:
    # given: fragments and a type condition on an interface's list
    lean, full = _directory(LeanExecutionContext), _directory(StrawberryGraphQLCoreExecutionContext)
    expected = await full.execute(DIRECTORY)
    collections.clear()

    # when
    first = await lean.execute(DIRECTORY)
    walked_first = list(collections)
    second = await lean.execute(DIRECTORY)

    # then: the same answers as graphql-core's, and the second request walks nothing
    assert first.data == second.data == expected.data
    assert expected.data == {
        "entries": [
            {"name": "Ann", "age": 30},
            {"name": "Volt", "staff": [{"age": 30}]},
            {"name": "Bob", "age": 41},
        ]
    }
    assert sorted(walked_first) == ["Company", "Person", "Person"]  # entries' types, staff
    assert collections == walked_first


@pytest.mark.parametrize(
    "document",
    [
        "query($full: Boolean!) { entries { name ... on Person @include(if: $full) { age } } }",
        "query($full: Boolean!) { entries { name ...Ages } } "
        "fragment Ages on Person { age @include(if: $full) }",
        "query($full: Boolean!) { entries { name ...Ages @skip(if: $full) } } "
        "fragment Ages on Person { age }",
    ],
)
async def test_what_the_variables_select_is_collected_for_each_request(
    document: str, collections: list[str]
) -> None:
    # given
    lean, full = _directory(LeanExecutionContext), _directory(StrawberryGraphQLCoreExecutionContext)

    # when: the same document with the variable one way, the other way, and back
    answers = [
        await lean.execute(document, variable_values={"full": value})
        for value in (True, False, True)
    ]
    collections.clear()
    await lean.execute(document, variable_values={"full": False})

    # then: each answer is graphql-core's for its variables, and every request collects
    for value, answer in zip((True, False, True), answers, strict=True):
        expected = await full.execute(document, variable_values={"full": value})
        assert answer.data == expected.data
    assert answers[0].data != answers[1].data
    assert collections  # walked again: nothing was kept for this operation


# --- objects whose fields are all plain leaves: completed as rows ---------------------------


@pytest.fixture
def full_completions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The objects completed through graphql-core's sub-field execution, by type name."""
    completed: list[str] = []
    original = LeanExecutionContext.collect_and_execute_subfields

    def counted(self: LeanExecutionContext, return_type: Any, *args: Any) -> Any:
        completed.append(return_type.name)
        return original(self, return_type, *args)

    monkeypatch.setattr(LeanExecutionContext, "collect_and_execute_subfields", counted)
    return completed


@pytest.mark.parametrize("kind", ["fine", "broken"])
async def test_objects_of_plain_leaves_are_completed_as_rows(
    kind: str, full_completions: list[str]
) -> None:
    # given: a list of Box, whose only field asked is a plain leaf
    document = "query($kind: String!) { holder(kind: $kind) { items { label } } }"
    lean = strawberry.Schema(query=HolderQuery, execution_context_class=LeanExecutionContext)
    full = strawberry.Schema(query=HolderQuery)

    # when
    fast = await lean.execute(document, variable_values={"kind": kind})
    slow = await full.execute(document, variable_values={"kind": kind})

    # then: graphql-core's answer; a fine Box never takes the full path, and a broken one
    # (the second item's null label) does, to be reported at its path
    assert fast.data == slow.data
    assert [e.formatted for e in fast.errors or ()] == [e.formatted for e in slow.errors or ()]
    assert full_completions.count("Box") == (0 if kind == "fine" else 1)
    if kind == "broken":
        assert slow.errors
        assert slow.errors[0].path == ["holder", "items", 1, "label"]
