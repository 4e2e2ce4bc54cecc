"""What can be paid and starting a payment (PAY-2, PAY-3, PAY-5) through GraphQL."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from gateway.settings import Settings
from schema.schema import build_schema, sdl
from tests.gateway.journeys import bearer, sign_in_demo
from tests.gateway.payments.support import (
    ACCOUNT,
    Acquirer,
    acquirer_id,
    codes,
    fast_settings,
    payment_input,
    start_payment,
)
from tests.support import graphql

GROUPS = """
query($number: AccountNumber!) {
  account(number: $number) {
    debts { housing housingSeparate solidWaste capitalRepair }
    paymentGroups { group title suppliers due debt penalties canPay stale asOf }
  }
}"""
REGISTER = """
mutation { register(input: {accountNumber: "7200000002", ownerSurname: "Петров",
  password: "Secret12", passwordConfirmation: "Secret12", consent: true,
  policyVersion: "2026-01"}) { token errors { code } } }"""


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    return fast_settings(emulators, tmp_path, payment_max_amount=Decimal(100000))


async def test_every_supplier_group_shows_its_due_amount_and_suppliers(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    billing = emulators.runtimes["billing"]
    billing.calls.reset()

    body = await graphql(client, GROUPS, {"number": ACCOUNT}, headers=headers)

    assert "errors" not in body, body
    account = body["data"]["account"]
    groups = {g["group"]: g for g in account["paymentGroups"]}
    assert list(groups) == ["HOUSING", "HOUSING_SEPARATE", "SOLID_WASTE", "CAPITAL_REPAIR"]
    for group in groups.values():
        due = Decimal(group["debt"]) + Decimal(group["penalties"])
        assert Decimal(group["due"]) == max(due, Decimal(0))
        assert group["canPay"] is True
        assert group["stale"] is False
        assert group["title"]
    assert Decimal(groups["HOUSING"]["debt"]) == Decimal(account["debts"]["housing"])
    assert "ООО «ТЭО»" in groups["SOLID_WASTE"]["suppliers"]
    assert any("капитального ремонта" in s for s in groups["CAPITAL_REPAIR"]["suppliers"])
    # debts and payment groups share one batched balance read
    assert billing.calls.snapshot().get("GetBalances") == 1


async def test_an_overpaid_group_has_nothing_due_but_can_still_be_paid(
    client: httpx.AsyncClient,
) -> None:
    token = (await graphql(client, REGISTER))["data"]["register"]["token"]
    headers = bearer(token)
    body = await graphql(client, GROUPS, {"number": "7200000002"}, headers=headers)
    groups = body["data"]["account"]["paymentGroups"]

    started = await start_payment(
        client, headers, payment_input(accountNumber="7200000002", amount="100.00")
    )

    assert all(Decimal(g["due"]) >= 0 for g in groups)
    assert started["errors"] == []


async def test_with_billing_down_the_groups_stay_payable_without_figures(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    emulators.runtimes["billing"].faults.update({"outage": True})

    body = await graphql(
        client,
        "query($n: AccountNumber!) { account(number: $n) { paymentGroups { group due canPay } } }",
        {"n": ACCOUNT},
        headers=headers,
    )

    assert "errors" not in body, body
    groups = body["data"]["account"]["paymentGroups"]
    assert [g["due"] for g in groups] == [None] * 4
    assert all(g["canPay"] for g in groups)


async def test_start_payment_creates_a_pending_payment_at_the_acquirers_card_page(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    acquirer = Acquirer(emulators)

    payload = await start_payment(client, headers, payment_input())

    assert payload["errors"] == []
    payment = payload["payment"]
    assert payment["status"] == "PENDING"
    assert payment["amount"] == "1234.50"
    assert payment["group"] == "HOUSING"
    assert payload["confirmationUrl"].startswith(f"{emulators.config.acquirer_url}/checkout/")
    held = await acquirer.payments()
    assert len(held) == 1
    created = held[0]["payment"]
    assert created["id"] == acquirer_id(payload)
    assert created["amount"] == {"value": "1234.50", "currency": "RUB"}
    assert created["metadata"] == {"payment_id": payment["id"], "account": ACCOUNT, "group": "1"}
    assert held[0]["return_url"].startswith("http://127.0.0.1:8000/payments/")


def test_no_card_data_can_pass_through_the_schema() -> None:
    text = sdl(build_schema()).lower()

    assert not re.search(r"\b(cardnumber|pan|cvc|cvv|cvc2|expiry|expiration|securitycode)\b", text)
    assert "cardnumber" not in text.replace("_", "")


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"amount": "0"}, "PAYMENT_AMOUNT_INVALID", "amount"),
        ({"amount": "-5.00"}, "PAYMENT_AMOUNT_INVALID", "amount"),
        ({"amount": "10.005"}, "PAYMENT_AMOUNT_INVALID", "amount"),
        ({"amount": "100000.01"}, "PAYMENT_AMOUNT_TOO_LARGE", "amount"),
        ({"idempotencyKey": "no spaces allowed"}, "IDEMPOTENCY_KEY_INVALID", "idempotencyKey"),
        ({"idempotencyKey": "k" * 65}, "IDEMPOTENCY_KEY_INVALID", "idempotencyKey"),
        ({"returnUrl": "javascript:alert(1)"}, "RETURN_URL_INVALID", "returnUrl"),
        ({"returnUrl": "/relative"}, "RETURN_URL_INVALID", "returnUrl"),
        ({"accountNumber": "7200000004"}, "ACCOUNT_NOT_FOUND", "accountNumber"),
        ({"accountNumber": "72000"}, "ACCOUNT_NUMBER_INVALID", "accountNumber"),
    ],
)
async def test_each_rule_refuses_with_its_own_code_and_calls_nobody(
    client: httpx.AsyncClient,
    emulators: EmulatorHost,
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    headers = await sign_in_demo(client)

    payload = await start_payment(client, headers, payment_input(**overrides))

    assert codes(payload) == [code]
    assert payload["errors"][0]["field"] == field
    assert payload["errors"][0]["message"]
    assert payload["payment"] is None
    assert "CreatePayment" not in emulators.runtimes["acquirer"].calls.snapshot()


async def test_the_ceiling_is_named_in_the_message(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)

    payload = await start_payment(client, headers, payment_input(amount="250000"))

    assert payload["errors"][0]["message"] == (
        "Сумма одного платежа не может превышать 100 000,00 ₽."
    )


async def test_signed_out_clients_cannot_start_payments(client: httpx.AsyncClient) -> None:
    body = await graphql(
        client,
        "mutation($input: StartPaymentInput!) { startPayment(input: $input) { errors { code } } }",
        payment_input(),
    )

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_repeat_gets_the_first_answer_and_another_input_is_refused(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    variables = payment_input(idempotencyKey="pay-1")

    first = await start_payment(client, headers, variables)
    again = await start_payment(client, headers, variables)
    other = await start_payment(client, headers, payment_input(idempotencyKey="pay-1", amount="5"))

    assert first["errors"] == []
    assert again == first
    assert codes(other) == ["IDEMPOTENCY_KEY_REUSED"]
    assert emulators.runtimes["acquirer"].calls.snapshot()["CreatePayment"] == 1


async def test_idempotency_keys_belong_to_one_customer(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    demo = await sign_in_demo(client)
    other = bearer((await graphql(client, REGISTER))["data"]["register"]["token"])

    mine = await start_payment(client, demo, payment_input(idempotencyKey="same-key"))
    theirs = await start_payment(
        client, other, payment_input(idempotencyKey="same-key", accountNumber="7200000002")
    )

    assert mine["errors"] == theirs["errors"] == []
    assert mine["payment"]["id"] != theirs["payment"]["id"]
    assert len(await Acquirer(emulators).payments()) == 2


async def test_twenty_concurrent_duplicates_create_one_acquirer_payment(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    variables = payment_input(idempotencyKey="tap-tap-tap")

    answers = await asyncio.gather(*(start_payment(client, headers, variables) for _ in range(20)))

    assert all(a["errors"] == [] for a in answers), answers
    assert len({a["payment"]["id"] for a in answers}) == 1
    assert len({a["confirmationUrl"] for a in answers}) == 1
    assert len(await Acquirer(emulators).payments()) == 1
    assert emulators.runtimes["acquirer"].calls.snapshot()["CreatePayment"] == 1


async def test_with_the_acquirer_down_the_payment_is_not_started_and_a_retry_works(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    acquirer = emulators.runtimes["acquirer"]
    variables = payment_input()
    acquirer.faults.update({"outage": True})

    down = await start_payment(client, headers, variables)
    acquirer.faults.reset()
    again = await start_payment(client, headers, variables)

    assert codes(down) == ["SERVICE_UNAVAILABLE"]
    assert again["errors"] == []
    assert again["payment"]["status"] == "PENDING"
    assert len(await Acquirer(emulators).payments()) == 1


async def test_a_refusal_of_the_acquirer_is_answered_the_same_way_on_a_repeat(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    # wrong shop credentials: the acquirer answers 401, a refusal, not an outage
    settings = fast_settings(emulators, tmp_path, acquirer_secret_key="wrong")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as http:
            headers = await sign_in_demo(http)
            variables = payment_input()

            first = await start_payment(http, headers, variables)
            again = await start_payment(http, headers, variables)

    assert codes(first) == ["PAYMENT_REJECTED"]
    assert again == first
    assert emulators.runtimes["acquirer"].calls.snapshot()["CreatePayment"] == 1


async def test_keys_are_kept_longer_than_a_day(
    client: httpx.AsyncClient, emulators: EmulatorHost, clock: Clock
) -> None:
    headers = await sign_in_demo(client)
    variables = payment_input(idempotencyKey="yesterday")
    first = await start_payment(client, headers, variables)

    clock.advance(timedelta(hours=25))
    headers = await sign_in_demo(client)  # the old session has expired
    again = await start_payment(client, headers, variables)

    assert again["payment"]["id"] == first["payment"]["id"]
    assert emulators.runtimes["acquirer"].calls.snapshot()["CreatePayment"] == 1
