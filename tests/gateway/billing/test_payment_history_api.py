"""Payment history through GraphQL (PAY-1, PAY-4): billing's booked payments merged with the
gateway's own unbooked ones, each payment once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from adapters.billing import SupplierGroup
from emulators.data import build
from emulators.host import EmulatorHost
from gateway.billing import UnbookedPayment
from gateway.clock import Clock
from gateway.identity.viewer_cache import ViewerCache
from gateway.services import Services
from tests.gateway.billing.conftest import UTILITY, billing_calls, forget_calls
from tests.gateway.journeys import sign_in_demo
from tests.support import graphql

HISTORY = """
query($number: AccountNumber!, $first: Int, $after: String) {
  account(number: $number) {
    payments(first: $first, after: $after) {
      totalCount complete stale asOf
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id group amount status createdAt bookedAt channel } }
    }
  }
}"""
TWICE = """
query($number: AccountNumber!) {
  account(number: $number) {
    recent: payments(first: 3) { edges { node { id } } }
    more: payments(first: 10) { totalCount }
  }
}"""


@dataclass
class Unbooked:
    """The payments service's side (issue 6) as the history sees it: a list we control."""

    payments: list[UnbookedPayment] = field(default_factory=list)
    viewers: ViewerCache = field(default_factory=lambda: ViewerCache(0))

    async def made(self, payment: UnbookedPayment) -> None:
        """A payment made here, announced as the payments service does after a customer's
        mutation or a status change: no answer kept from before shows the old list."""
        self.payments.append(payment)
        self.viewers.clear()

    async def unbooked(self, account_numbers: Sequence[str]) -> dict[str, list[UnbookedPayment]]:
        return {
            number: [p for p in self.payments if p.account_number == number]
            for number in account_numbers
        }


@pytest.fixture
def unbooked(app: Starlette) -> Unbooked:
    """The gateway's unbooked payments, wired into the running app."""
    services: Services = app.state.services
    source = Unbooked(viewers=services.responses.viewers)
    services.billing.history.unbooked = source
    return source


def pending(payment_id: str, created_at: datetime, amount: str = "1500.00") -> UnbookedPayment:
    return UnbookedPayment(
        id=payment_id,
        external_id=payment_id,
        account_number="7200000001",
        group=SupplierGroup.HOUSING,
        amount=Decimal(amount),
        status="PENDING",
        created_at=created_at,
    )


def demo_payments(clock: Clock) -> int:
    """How many payments billing's demo data has booked for 7200000001 (the oracle)."""
    data = build(clock.now().astimezone(UTILITY).date())
    return sum(1 for p in data.payments if p.account == "7200000001")


async def history(
    client: httpx.AsyncClient, headers: dict[str, str], first: int = 20, after: str | None = None
) -> dict[str, Any]:
    variables = {"number": "7200000001", "first": first, "after": after}
    body = await graphql(client, HISTORY, variables, headers=headers)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["account"]["payments"]
    return connection


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


async def test_the_history_lists_billings_payments_newest_first_across_pages(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    headers = await sign_in_demo(client)

    pages = [await history(client, headers, 7)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await history(client, headers, 7, pages[-1]["pageInfo"]["endCursor"]))

    payments = [node for page in pages for node in nodes(page)]
    expected = demo_payments(clock)
    assert expected > 20
    assert len(payments) == expected
    assert all(page["totalCount"] == expected for page in pages)
    assert len({p["id"] for p in payments}) == expected
    moments = [datetime.fromisoformat(p["createdAt"]) for p in payments]
    assert moments == sorted(moments, reverse=True)
    assert all(p["status"] == "BOOKED" for p in payments)
    assert all(p["bookedAt"] and p["channel"] for p in payments)
    assert all(Decimal(p["amount"]) > 0 and p["amount"].count(".") == 1 for p in payments)
    assert pages[0]["complete"] is True
    assert pages[0]["stale"] is False
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False] + [True] * (
        len(pages) - 1
    )


async def test_a_payment_made_here_shows_pending_then_once_as_booked(
    client: httpx.AsyncClient,
    app: Starlette,
    clock: Clock,
    emulators: EmulatorHost,
    unbooked: Unbooked,
) -> None:
    headers = await sign_in_demo(client)
    services: Services = app.state.services
    paid_at = clock.now()
    await services.upstreams.billing.post_payment(
        "lkk-pay-1", "7200000001", SupplierGroup.HOUSING, Decimal("1500"), paid_at, "acq-1"
    )
    unbooked.payments.append(pending("lkk-pay-1", paid_at))
    expected = demo_payments(clock)

    before = await history(client, headers)
    emulators.runtimes["billing"].clock.freeze(paid_at + timedelta(minutes=1))  # booked
    clock.advance(timedelta(seconds=31))  # past the payment history's fresh lifetime
    after = await history(client, headers)

    assert before["totalCount"] == expected + 1
    assert nodes(before)[0] == {
        "id": "lkk-pay-1",
        "group": "HOUSING",
        "amount": "1500.00",
        "status": "PENDING",
        "createdAt": paid_at.isoformat(),
        "bookedAt": None,
        "channel": None,
    }
    assert after["totalCount"] == expected + 1
    ours = [node for node in nodes(after) if node["id"] == "lkk-pay-1"]
    assert len(ours) == 1
    assert ours[0]["status"] == "BOOKED"
    assert ours[0]["amount"] == "1500.00"
    assert ours[0]["channel"] == "ЛКК"
    assert datetime.fromisoformat(ours[0]["bookedAt"]) >= paid_at


async def test_cursors_stay_put_when_a_payment_is_made_between_pages(
    client: httpx.AsyncClient, clock: Clock, unbooked: Unbooked
) -> None:
    headers = await sign_in_demo(client)
    first = await history(client, headers, 5)
    second_before = await history(client, headers, 5, first["pageInfo"]["endCursor"])

    await unbooked.made(pending("lkk-pay-2", clock.now()))
    second_after = await history(client, headers, 5, first["pageInfo"]["endCursor"])
    first_after = await history(client, headers, 5)

    assert nodes(second_after) == nodes(second_before)
    assert nodes(first_after)[0]["id"] == "lkk-pay-2"
    assert nodes(first_after)[1:] == nodes(first)[:4]


async def test_the_history_costs_one_get_payments_cold_and_none_warm(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    forget_calls(emulators)

    cold = await graphql(client, TWICE, {"number": "7200000001"}, headers=headers)
    cold_calls = billing_calls(emulators)
    warm = await graphql(client, TWICE, {"number": "7200000001"}, headers=headers)

    assert "errors" not in cold, cold
    assert warm == cold
    assert cold_calls == {"GetPayments": 1}
    assert billing_calls(emulators) == cold_calls


async def test_with_billing_down_and_nothing_cached_payments_made_here_still_show(
    client: httpx.AsyncClient, clock: Clock, emulators: EmulatorHost, unbooked: Unbooked
) -> None:
    headers = await sign_in_demo(client)
    unbooked.payments.append(pending("lkk-pay-3", clock.now(), "250.50"))
    emulators.runtimes["billing"].faults.update({"outage": True})

    connection = await history(client, headers)

    assert connection["complete"] is False
    assert connection["asOf"] is None
    assert connection["totalCount"] == 1
    assert [(n["id"], n["status"], n["amount"]) for n in nodes(connection)] == [
        ("lkk-pay-3", "PENDING", "250.50")
    ]


async def test_billings_part_stands_in_stale_while_billing_is_down(
    client: httpx.AsyncClient, clock: Clock, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    fresh = await history(client, headers)
    emulators.runtimes["billing"].faults.update({"outage": True})
    clock.advance(timedelta(seconds=31))

    stale = await history(client, headers)

    assert stale["complete"] is True
    assert stale["stale"] is True
    assert stale["asOf"] == fresh["asOf"]
    assert nodes(stale) == nodes(fresh)


async def test_a_malformed_payment_cursor_is_a_bad_user_input_error(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)

    body = await graphql(
        client,
        HISTORY,
        {"number": "7200000001", "first": 5, "after": "cGVyaW9kOjIwMjYtMDE="},
        headers=headers,
    )

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
