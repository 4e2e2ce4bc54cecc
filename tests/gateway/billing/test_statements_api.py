"""Statements through GraphQL against the billing emulator (CHG-1, CHG-2, GW-2)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from emulators.data import add_months
from emulators.host import EmulatorHost
from gateway.clock import Clock
from tests.gateway.billing.conftest import billing_calls, forget_calls, freeze, local
from tests.gateway.journeys import link, sign_in_demo
from tests.support import graphql

PAGE = """
query($number: AccountNumber!, $first: Int, $after: String) {
  account(number: $number) {
    statements(first: $first, after: $after) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { period } }
    }
  }
}"""
FIGURES = """
query {
  me {
    accounts {
      number
      statements(first: 30) {
        pageInfo { hasNextPage }
        edges { node {
          period openingBalance charged penalties paid closingBalance dueDate stale
          charges { service group supplier tariff volume unit amount }
          groups { group openingBalance charged penalties paid closingBalance }
        } }
      }
    }
  }
}"""
ONE = """
query($number: AccountNumber!, $period: Period!) {
  account(number: $number) {
    nextStatementDate
    statement(period: $period) { period closingBalance }
    statements(first: 1) { edges { node { period } } }
  }
}"""
PAGE_AND_ONE = """
query($number: AccountNumber!, $period: Period!) {
  account(number: $number) {
    statements(first: 12) { edges { node { period closingBalance receiptUrl } } }
    statement(period: $period) { period closingBalance }
  }
}"""
NEWEST = """
query($number: AccountNumber!) {
  account(number: $number) {
    address
    statements(first: 3) { edges { node { period stale asOf } } }
  }
}"""
MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}$")


def period(day: date) -> str:
    return f"{day:%Y-%m}"


def this_month() -> date:
    return local(1).date()


async def page(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    first: int,
    after: str | None = None,
    number: str = "7200000001",
) -> dict[str, Any]:
    variables = {"number": number, "first": first, "after": after}
    body = await graphql(client, PAGE, variables, headers=headers)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["account"]["statements"]
    return connection


def periods_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["period"] for edge in connection["edges"]]


async def test_24_months_of_statements_paginate_without_gaps_or_repeats(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)

    pages = [await page(client, headers, 10)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await page(client, headers, 10, pages[-1]["pageInfo"]["endCursor"]))

    seen = [p for connection in pages for p in periods_of(connection)]
    newest = add_months(this_month(), -2)  # on the 5th, last month is not out yet
    assert seen == [period(add_months(newest, -i)) for i in range(24)]
    assert [len(c["edges"]) for c in pages] == [10, 10, 4]
    assert [c["pageInfo"]["hasPreviousPage"] for c in pages] == [False, True, True]
    assert [c["pageInfo"]["hasNextPage"] for c in pages] == [True, True, False]
    for connection in pages:
        cursors = [edge["cursor"] for edge in connection["edges"]]
        assert connection["pageInfo"]["startCursor"] == cursors[0]
        assert connection["pageInfo"]["endCursor"] == cursors[-1]


async def test_cursors_stay_put_when_a_new_month_is_published(
    client: httpx.AsyncClient, clock: Clock, emulators: EmulatorHost
) -> None:
    freeze(clock, emulators, local(9, 23, 59, 59))
    headers = await sign_in_demo(client)
    first = await page(client, headers, 5)
    second_before = await page(client, headers, 5, first["pageInfo"]["endCursor"])

    freeze(clock, emulators, local(10, 0, 0, 0))
    second_after = await page(client, headers, 5, first["pageInfo"]["endCursor"])
    first_after = await page(client, headers, 5)

    assert periods_of(second_after) == periods_of(second_before)
    assert [e["cursor"] for e in second_after["edges"]] == [
        e["cursor"] for e in second_before["edges"]
    ]
    assert periods_of(first_after)[0] == period(add_months(this_month(), -1))
    assert periods_of(first_after)[1:] == periods_of(first)[:4]


async def test_sums_add_up_for_every_period_of_every_demo_account(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    for number, surname in [
        ("7200000002", "Петров"),
        ("7200000003", "Сёмина"),
        ("7200000004", "Иванова"),
    ]:
        assert (await link(client, headers, number, surname))["errors"] == []
    forget_calls(emulators)

    body = await graphql(client, FIGURES, headers=headers)

    assert "errors" not in body, body
    assert billing_calls(emulators) == {"GetStatements": 4}  # one per account
    accounts = body["data"]["me"]["accounts"]
    assert sorted(a["number"] for a in accounts) == [f"720000000{i}" for i in range(1, 5)]
    closing_balances: dict[str, list[Decimal]] = {}
    for account in accounts:
        statements = [edge["node"] for edge in account["statements"]["edges"]]
        assert len(statements) == 24
        assert account["statements"]["pageInfo"]["hasNextPage"] is False
        for statement in statements:
            figures = {
                name: statement[name]
                for name in ("openingBalance", "charged", "penalties", "paid", "closingBalance")
            }
            assert all(MONEY.match(value) for value in figures.values()), statement
            opening, charged, penalties, paid, closing = map(Decimal, figures.values())
            assert opening + charged + penalties - paid == closing, statement["period"]
            assert sum(Decimal(c["amount"]) for c in statement["charges"]) == charged
            assert all(MONEY.match(c["amount"]) for c in statement["charges"])
            groups = statement["groups"]
            assert [g["group"] for g in groups] == [
                "HOUSING",
                "HOUSING_SEPARATE",
                "SOLID_WASTE",
                "CAPITAL_REPAIR",
            ]
            for name, total in zip(
                figures, (opening, charged, penalties, paid, closing), strict=True
            ):
                assert sum(Decimal(g[name]) for g in groups) == total, (statement["period"], name)
            for group in groups:
                group_opening, group_charged, group_penalties, group_paid, group_closing = (
                    Decimal(group[name]) for name in figures
                )
                assert group_opening + group_charged + group_penalties - group_paid == group_closing
            assert statement["stale"] is False
            assert date.fromisoformat(statement["dueDate"]) > date.fromisoformat(
                statement["period"] + "-01"
            )
        closing_balances[account["number"]] = [Decimal(s["closingBalance"]) for s in statements]
    assert any(balance < 0 for balance in closing_balances["7200000003"])  # overpaid
    assert all(balance > 0 for balance in closing_balances["7200000001"][:1])  # owes


async def test_charges_carry_tariff_volume_and_unit_where_billing_has_them(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)

    body = await graphql(client, FIGURES, headers=headers)

    assert "errors" not in body, body
    newest = body["data"]["me"]["accounts"][0]["statements"]["edges"][0]["node"]
    electricity = [c for c in newest["charges"] if c["unit"] == "кВт·ч"]
    assert electricity, newest["charges"]
    for charge in electricity:
        assert charge["group"] == "HOUSING"
        assert Decimal(charge["tariff"]) > 0
        assert Decimal(charge["volume"]) >= 0
    assert any(c["tariff"] is None for c in newest["charges"]) or all(
        c["unit"] for c in newest["charges"]
    )


@pytest.mark.parametrize(
    ("moment", "shown", "newest", "next_date"),
    [
        (local(9, 23, 59, 59), False, -2, local(10).date()),
        (local(10, 0, 0, 0), True, -1, local(10, months=1).date()),
        (local(28, 23, 59, 59), True, -1, local(10, months=1).date()),
    ],
    ids=["9th-23:59:59", "10th-00:00:00", "28th"],
)
async def test_last_months_statement_appears_on_the_10th_in_utility_time(
    client: httpx.AsyncClient,
    clock: Clock,
    emulators: EmulatorHost,
    moment: Any,
    shown: bool,
    newest: int,
    next_date: date,
) -> None:
    freeze(clock, emulators, moment)
    headers = await sign_in_demo(client)
    last_month = period(add_months(this_month(), -1))

    body = await graphql(
        client, ONE, {"number": "7200000001", "period": last_month}, headers=headers
    )

    assert "errors" not in body, body
    account = body["data"]["account"]
    assert (account["statement"] is not None) is shown
    assert account["statements"]["edges"][0]["node"]["period"] == period(
        add_months(this_month(), newest)
    )
    assert account["nextStatementDate"] == next_date.isoformat()


async def test_the_gateway_hides_a_month_billing_would_show_early(
    client: httpx.AsyncClient, clock: Clock, emulators: EmulatorHost
) -> None:
    clock.freeze(local(9, 23, 0))
    emulators.runtimes["billing"].clock.freeze(local(10, 1, 0))  # billing runs ahead
    headers = await sign_in_demo(client)
    last_month = period(add_months(this_month(), -1))

    body = await graphql(
        client, ONE, {"number": "7200000001", "period": last_month}, headers=headers
    )

    assert "errors" not in body, body
    assert body["data"]["account"]["statement"] is None
    assert body["data"]["account"]["statements"]["edges"][0]["node"]["period"] == period(
        add_months(this_month(), -2)
    )


async def test_a_month_billing_publishes_late_shows_as_soon_as_billing_has_it(
    client: httpx.AsyncClient, clock: Clock, emulators: EmulatorHost
) -> None:
    billing_clock = emulators.runtimes["billing"].clock
    clock.freeze(local(10, 1, 0))
    billing_clock.freeze(local(9, 23, 0))  # billing has not closed last month yet
    headers = await sign_in_demo(client)
    forget_calls(emulators)

    late = await page(client, headers, 3)
    billing_clock.freeze(local(10, 1, 0))
    caught_up = await page(client, headers, 3)

    assert periods_of(late)[0] == period(add_months(this_month(), -2))
    assert periods_of(caught_up)[0] == period(add_months(this_month(), -1))
    assert billing_calls(emulators) == {"GetStatements": 2}


async def test_a_page_of_12_costs_one_get_statements_cold_and_none_warm(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    forget_calls(emulators)

    cold = await page(client, headers, 12)
    cold_calls = billing_calls(emulators).get("GetStatements", 0)
    warm = await page(client, headers, 12)
    warm_calls = billing_calls(emulators).get("GetStatements", 0) - cold_calls

    assert len(cold["edges"]) == 12
    assert warm == cold
    assert cold_calls == 1
    assert warm_calls == 0


async def test_the_next_page_costs_one_call_and_the_end_of_history_none_when_warm(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    first = await page(client, headers, 12)
    forget_calls(emulators)

    second = await page(client, headers, 12, first["pageInfo"]["endCursor"])
    beyond = await page(client, headers, 12, second["pageInfo"]["endCursor"])
    cold = billing_calls(emulators).get("GetStatements", 0)
    again = await page(client, headers, 12, second["pageInfo"]["endCursor"])

    assert len(second["edges"]) == 12
    assert beyond["edges"] == []
    assert beyond["pageInfo"]["hasNextPage"] is False
    assert again == beyond
    assert cold == 2
    assert billing_calls(emulators).get("GetStatements", 0) == cold


async def test_a_page_and_one_statement_in_one_request_share_one_call(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    older = period(add_months(this_month(), -20))  # outside the page
    forget_calls(emulators)

    body = await graphql(
        client, PAGE_AND_ONE, {"number": "7200000001", "period": older}, headers=headers
    )

    assert "errors" not in body, body
    account = body["data"]["account"]
    assert len(account["statements"]["edges"]) == 12
    assert account["statement"]["period"] == older
    assert billing_calls(emulators) == {"GetStatements": 1}


async def test_a_statement_of_a_future_or_ancient_period_is_null(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    variables = {"number": "7200000001"}
    forget_calls(emulators)

    future = await graphql(
        client, ONE, {**variables, "period": period(add_months(this_month(), 3))}, headers=headers
    )
    ancient = await graphql(client, ONE, {**variables, "period": "2001-01"}, headers=headers)
    calls_before_repeat = billing_calls(emulators).get("GetStatements", 0)
    again = await graphql(client, ONE, {**variables, "period": "2001-01"}, headers=headers)

    assert future["data"]["account"]["statement"] is None
    assert ancient["data"]["account"]["statement"] is None
    assert again == ancient
    assert billing_calls(emulators).get("GetStatements", 0) == calls_before_repeat


@pytest.mark.parametrize("value", ["2026-13", "2026-1", "26-01", "2026-01-01", "январь"])
async def test_a_malformed_period_is_a_graphql_input_error(
    client: httpx.AsyncClient, value: str
) -> None:
    headers = await sign_in_demo(client)

    body = await graphql(client, ONE, {"number": "7200000001", "period": value}, headers=headers)

    assert body.get("data") is None
    assert "Period" in body["errors"][0]["message"] or "period" in body["errors"][0]["message"]


async def test_a_malformed_cursor_is_a_bad_user_input_error(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)

    body = await graphql(
        client, PAGE, {"number": "7200000001", "first": 5, "after": "bm9wZQ=="}, headers=headers
    )

    assert body["data"]["account"]["statements"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_statements_stand_in_stale_while_billing_is_down(
    client: httpx.AsyncClient, clock: Clock, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    variables = {"number": "7200000001"}
    fresh = await graphql(client, NEWEST, variables, headers=headers)
    emulators.runtimes["billing"].faults.update({"outage": True})
    clock.advance(timedelta(days=1, minutes=1))  # past the fresh lifetime of closed periods
    headers = await sign_in_demo(client)  # the first session has expired meanwhile

    body = await graphql(client, NEWEST, variables, headers=headers)

    edges = body["data"]["account"]["statements"]["edges"]
    assert [e["node"]["period"] for e in edges] == [
        e["node"]["period"] for e in fresh["data"]["account"]["statements"]["edges"]
    ]
    assert all(e["node"]["stale"] is True for e in edges)
    assert (
        edges[0]["node"]["asOf"]
        == fresh["data"]["account"]["statements"]["edges"][0]["node"]["asOf"]
    )


async def test_with_billing_down_and_nothing_cached_only_statements_are_null(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    await graphql(client, "query { me { accounts { address } } }", headers=headers)
    emulators.runtimes["billing"].faults.update({"outage": True})

    body = await graphql(client, NEWEST, {"number": "7200000001"}, headers=headers)

    assert body["data"]["account"]["address"]  # cached a moment ago
    assert body["data"]["account"]["statements"] is None
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "UPSTREAM_UNAVAILABLE", "upstream": "billing"}
    ]
    assert body["errors"][0]["path"] == ["account", "statements"]
