"""Query limits: each one lets a document at its edge through and refuses one step over it
with its own code and a Russian message that names the limit.

The limits are tried on a small schema of their own (accounts, meters, connections of
readings), wired the way ``build_schema`` wires them: after the parser and validation caches.
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import get_introspection_query, parse
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import ExecutionResult

from gateway.settings import Settings
from schema.limits import (
    AliasLimit,
    QueryCostLimit,
    QueryDepthLimit,
    QueryTokenLimit,
    limit_extensions,
    measure,
)
from schema.schema import build_schema


@strawberry.type
class Reading:
    value: int


@strawberry.type
class ReadingEdge:
    node: Reading


@strawberry.type
class ReadingConnection:
    edges: list[ReadingEdge]
    total_count: int


@strawberry.type
class Meter:
    serial: str

    @strawberry.field
    def readings(self, first: int | None = None) -> ReadingConnection:
        size = 10 if first is None else first
        edges = [ReadingEdge(node=Reading(value=i)) for i in range(size)]
        return ReadingConnection(edges=edges, total_count=size)


@strawberry.type
class Account:
    number: str

    @strawberry.field
    def meters(self, first: int = 5) -> list[Meter]:
        return [Meter(serial=f"M-{i}") for i in range(first)]

    @strawberry.field
    def parent(self) -> Account:
        return Account(number=self.number)


@strawberry.type
class Query:
    @strawberry.field
    def account(self) -> Account:
        return Account(number="7200000001")


def limited_schema(
    *,
    depth: int = 10,
    aliases: int = 30,
    tokens: int = 2000,
    cost: int = 10000,
    caches: bool = True,
) -> strawberry.Schema:
    settings = Settings(
        max_query_depth=depth, max_aliases=aliases, max_query_tokens=tokens, max_query_cost=cost
    )
    extensions: list[Any] = []
    if caches:
        extensions = [lambda: ParserCache(maxsize=64), lambda: ValidationCache(maxsize=64)]
    return strawberry.Schema(query=Query, extensions=[*extensions, *limit_extensions(settings)])


async def run(
    schema: strawberry.Schema, document: str, variables: dict[str, Any] | None = None
) -> ExecutionResult:
    return await schema.execute(document, variable_values=variables)


def refusal(result: ExecutionResult) -> dict[str, Any]:
    """The one error of a refused request: message and extensions."""
    assert result.data is None
    assert result.errors is not None
    assert len(result.errors) == 1
    error = result.errors[0]
    return {"message": error.message, "extensions": error.extensions}


def nested(levels: int) -> str:
    return "{ account { " + "parent { " * levels + "number" + " }" * levels + " } }"


# --- tokens ----------------------------------------------------------------------------------


def document_of_tokens(count: int) -> str:
    document = "{ account { " + "number " * (count - 5) + "} }"
    assert parse(document).token_count == count
    return document


@pytest.mark.parametrize("caches", [True, False], ids=["with-caches", "without-caches"])
async def test_a_document_of_exactly_max_tokens_runs(caches: bool) -> None:
    schema = limited_schema(tokens=500, caches=caches)

    result = await run(schema, document_of_tokens(500))

    assert result.errors is None
    assert result.data == {"account": {"number": "7200000001"}}


@pytest.mark.parametrize("caches", [True, False], ids=["with-caches", "without-caches"])
async def test_a_document_of_one_token_more_is_refused_as_too_large(caches: bool) -> None:
    schema = limited_schema(tokens=500, caches=caches)

    result = await run(schema, document_of_tokens(501))

    assert refusal(result) == {
        "message": "Запрос слишком большой: число лексем в документе превышает 500.",
        "extensions": {"code": "QUERY_TOO_LARGE", "limit": 500},
    }


def test_the_token_limit_also_refuses_in_synchronous_execution() -> None:
    schema = strawberry.Schema(query=Query, extensions=[lambda: QueryTokenLimit(500)])

    result = schema.execute_sync(document_of_tokens(501))

    assert refusal(result)["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": 500}


async def test_an_ordinary_syntax_error_keeps_its_own_message() -> None:
    schema = limited_schema(tokens=500)

    result = await run(schema, "{ account { number }")

    assert result.errors is not None
    assert result.errors[0].message.startswith("Syntax Error")
    assert not result.errors[0].extensions


# --- depth -----------------------------------------------------------------------------------


async def test_a_document_nested_exactly_max_depth_runs() -> None:
    schema = limited_schema(depth=4)

    result = await run(schema, nested(3))

    assert result.errors is None
    assert result.data == {"account": {"parent": {"parent": {"parent": {"number": "7200000001"}}}}}


async def test_a_document_nested_one_level_deeper_is_refused_as_too_deep() -> None:
    schema = limited_schema(depth=4)

    result = await run(schema, nested(4))

    assert refusal(result) == {
        "message": "Запрос слишком глубокий: вложенность полей превышает 4.",
        "extensions": {"code": "QUERY_TOO_DEEP", "limit": 4},
    }


async def test_a_wide_and_too_deep_document_gets_one_depth_error() -> None:
    schema = limited_schema(depth=2)
    document = "{ account { parent { parent { number } } x: parent { parent { number } } } }"

    result = await run(schema, document)

    assert refusal(result)["extensions"] == {"code": "QUERY_TOO_DEEP", "limit": 2}


async def test_depth_through_fragments_counts_too() -> None:
    schema = limited_schema(depth=2)
    document = "{ account { ...Deep } } fragment Deep on Account { parent { parent { number } } }"

    result = await run(schema, document)

    assert refusal(result)["extensions"] == {"code": "QUERY_TOO_DEEP", "limit": 2}


# --- aliases ---------------------------------------------------------------------------------


def aliased(count: int) -> str:
    return "{ account { " + " ".join(f"n{i}: number" for i in range(count)) + " } }"


async def test_a_document_with_exactly_max_aliases_runs() -> None:
    schema = limited_schema(aliases=3)

    result = await run(schema, aliased(3))

    assert result.errors is None
    assert result.data == {"account": {"n0": "7200000001", "n1": "7200000001", "n2": "7200000001"}}


async def test_a_document_with_one_alias_more_is_refused() -> None:
    schema = limited_schema(aliases=3)

    result = await run(schema, aliased(4))

    assert refusal(result) == {
        "message": "В запросе слишком много псевдонимов полей: их число превышает 3.",
        "extensions": {"code": "TOO_MANY_ALIASES", "limit": 3},
    }


# --- page size -------------------------------------------------------------------------------


PAGE = "query Page($n: Int!) { account { meters(first: $n) { serial } } }"


async def test_a_page_of_exactly_100_runs() -> None:
    schema = limited_schema()

    result = await run(schema, PAGE, {"n": 100})

    assert result.errors is None
    assert result.data is not None
    assert len(result.data["account"]["meters"]) == 100


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (PAGE, {"n": 101}),
        ("{ account { meters(first: 101) { serial } } }", None),
        ("query Page($n: Int = 101) { account { meters(first: $n) { serial } } }", None),
    ],
    ids=["variable", "literal", "variable-default"],
)
async def test_a_page_of_101_is_refused_whatever_the_cost(
    document: str, variables: dict[str, Any] | None
) -> None:
    schema = limited_schema(cost=1_000_000)

    result = await run(schema, document, variables)

    assert refusal(result) == {
        "message": "Слишком большая страница в поле «meters»: first = 101, "
        "допускается не более 100.",
        "extensions": {
            "code": "PAGE_SIZE_TOO_LARGE",
            "field": "meters",
            "argument": "first",
            "limit": 100,
        },
    }


# --- cost ------------------------------------------------------------------------------------


async def test_a_request_costing_exactly_the_budget_runs() -> None:
    schema = limited_schema(cost=50)  # account 1 + meters 1 + n × serial 1

    result = await run(schema, PAGE, {"n": 48})

    assert result.errors is None


async def test_a_request_costing_one_more_than_the_budget_is_refused_as_too_complex() -> None:
    schema = limited_schema(cost=50)

    result = await run(schema, PAGE, {"n": 49})

    assert refusal(result) == {
        "message": "Запрос слишком сложный: его стоимость 51 превышает допустимую 50. "
        "Запросите меньше записей (аргумент first) или разделите запрос на несколько.",
        "extensions": {"code": "QUERY_TOO_COMPLEX", "cost": 51, "limit": 50},
    }


async def test_the_cost_is_measured_per_request_although_validation_is_cached() -> None:
    schema = limited_schema(cost=50)

    answers = [await run(schema, PAGE, {"n": n}) for n in (48, 49, 48)]

    assert [a.errors is None for a in answers] == [True, False, True]


async def test_nested_connections_at_full_pages_exceed_the_default_budget() -> None:
    schema = limited_schema()  # the default budget, 10 000
    document = """{ account { meters(first: 100) {
        readings(first: 100) { edges { node { value } } } } } }"""

    result = await run(schema, document)

    assert refusal(result)["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": 1 + 1 + 100 * (1 + 100 * (1 + 1 + 1)),
        "limit": 10000,
    }


async def test_an_invalid_document_gets_its_validation_error_not_a_limit() -> None:
    schema = limited_schema(cost=1)

    result = await run(schema, "{ account { meters(first: 500) { colour } } }")

    assert result.errors is not None
    assert [e.message for e in result.errors] == ["Cannot query field 'colour' on type 'Meter'."]


def test_the_cost_limit_also_refuses_in_synchronous_execution() -> None:
    schema = strawberry.Schema(query=Query, extensions=[lambda: QueryCostLimit(10)])

    result = schema.execute_sync("{ account { meters(first: 9) { serial } } }")

    assert refusal(result)["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 11, "limit": 10}


# --- how the cost is counted -----------------------------------------------------------------


def cost_of(document: str, variables: dict[str, Any] | None = None) -> int:
    schema = strawberry.Schema(query=Query)
    return measure(schema._schema, parse(document), None, variables).cost


def test_a_connection_costs_its_page_size_times_its_selection() -> None:
    document = """{ account { meters(first: 3) {
        readings(first: 4) { edges { node { value } } totalCount } } } }"""

    # readings: 1 + 4 × (edges 1 + node 1 + value 1 + totalCount 1) = 17
    # meters:   1 + 3 × (readings 17) = 52;  account: 1 + 52
    assert cost_of(document) == 53


def test_a_page_size_left_out_counts_as_the_schema_default_or_a_full_page() -> None:
    # meters defaults to first = 5; readings has no default, so a full page of 100
    document = "{ account { meters { readings { totalCount } } } }"

    assert cost_of(document) == 1 + (1 + 5 * (1 + 100 * 1))


def test_fragments_cost_what_they_select_each_time_they_are_spread() -> None:
    document = """{ account { a: meters(first: 2) { ...M } b: meters(first: 3) { ...M } } }
        fragment M on Meter { serial readings(first: 2) { totalCount } }"""

    # ...M = serial 1 + readings (1 + 2 × 1) = 4
    assert cost_of(document) == 1 + (1 + 2 * 4) + (1 + 3 * 4)


def test_introspection_fields_are_free() -> None:
    assert cost_of("{ __typename account { __typename number } }") == 2


# --- wiring ----------------------------------------------------------------------------------


def test_each_limit_builds_its_validation_rule_once_so_the_validation_cache_hits() -> None:
    # ValidationCache is keyed by the rule classes: a new class per request would miss
    assert QueryDepthLimit(4).validation_rules == QueryDepthLimit(4).validation_rules
    assert AliasLimit(3).validation_rules == AliasLimit(3).validation_rules


async def test_the_gateway_schema_carries_the_default_limits() -> None:
    document = "{ " + " ".join(f"t{i}: __typename" for i in range(31)) + " }"

    refused = await build_schema().execute(document)
    relaxed = await build_schema(Settings(max_aliases=31)).execute(document)

    assert refusal(refused)["extensions"] == {"code": "TOO_MANY_ALIASES", "limit": 30}
    assert relaxed.errors is None


async def test_graphiqls_introspection_query_fits_the_default_limits() -> None:
    document = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )

    result = await build_schema().execute(document)

    assert result.errors is None
