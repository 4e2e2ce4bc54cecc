"""My accounts and the account page through GraphQL (ACC-1, ACC-2, SET-1, GW-2)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from emulators.host import EmulatorHost
from gateway.clock import Clock
from tests.gateway.journeys import link, sign_in_demo
from tests.support import graphql

DASHBOARD = """
query {
  me {
    accounts {
      number
      address
      debts {
        housing housingSeparate solidWaste capitalRepair penalties total asOf stale
      }
      meters {
        id serial status zones digits canSubmit stale
        lastReadings { zone value date }
      }
    }
    currentAccount { number }
  }
}"""
UNLINK = """
mutation($number: AccountNumber!) {
  unlinkAccount(input: {accountNumber: $number}) {
    accountNumber accounts { number } errors { code field message }
  }
}"""
SELECT = """
mutation($number: AccountNumber!) {
  selectAccount(input: {accountNumber: $number}) {
    currentAccount { number } errors { code field message }
  }
}"""
ACCOUNT = """
query($number: AccountNumber!) { account(number: $number) { number address } }"""


def calls(emulators: EmulatorHost) -> dict[str, dict[str, int]]:
    """Calls counted at each emulator since the last reset."""
    return {name: runtime.calls.snapshot() for name, runtime in emulators.runtimes.items()}


def forget_calls(emulators: EmulatorHost) -> None:
    for runtime in emulators.runtimes.values():
        runtime.calls.reset()


async def two_accounts(client: httpx.AsyncClient) -> dict[str, str]:
    """The demo customer signed in with their second account linked."""
    headers = await sign_in_demo(client)
    payload = await link(client, headers, "7200000004", "  иванова ")
    assert payload["errors"] == []
    assert payload["account"] == {"number": "7200000004"}
    return headers


async def test_linking_checks_the_owner_surname_and_refuses_repeats(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)

    stranger = await link(client, headers, "7200000002", "Иванова")
    malformed = await link(client, headers, "72000", "Иванова")
    own = await link(client, headers, "7200000001", "Иванова")

    assert [e["code"] for e in stranger["errors"]] == ["ACCOUNT_OR_SURNAME_MISMATCH"]
    assert [e["code"] for e in malformed["errors"]] == ["ACCOUNT_NUMBER_INVALID"]
    assert [e["code"] for e in own["errors"]] == ["ACCOUNT_ALREADY_LINKED"]
    assert "лицевой счёт уже добавлен" in own["errors"][0]["message"]


async def test_the_last_account_cannot_be_unlinked_and_the_current_one_switches(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)
    alone = await graphql(client, UNLINK, {"number": "7200000001"}, headers=headers)
    assert [e["code"] for e in alone["data"]["unlinkAccount"]["errors"]] == ["LAST_ACCOUNT"]

    await link(client, headers, "7200000004", "Иванова")
    switched = await graphql(client, SELECT, {"number": "7200000004"}, headers=headers)
    current = await graphql(client, "{ me { currentAccount { number } } }", headers=headers)
    unlinked = await graphql(client, UNLINK, {"number": "7200000004"}, headers=headers)
    after = await graphql(client, "{ me { currentAccount { number } } }", headers=headers)

    assert switched["data"]["selectAccount"]["currentAccount"] == {"number": "7200000004"}
    assert current["data"]["me"]["currentAccount"] == {"number": "7200000004"}
    assert unlinked["data"]["unlinkAccount"]["accounts"] == [{"number": "7200000001"}]
    assert after["data"]["me"]["currentAccount"] == {"number": "7200000001"}


async def test_another_customers_account_is_invisible(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)

    other = await graphql(client, ACCOUNT, {"number": "7200000002"}, headers=headers)
    own = await graphql(client, ACCOUNT, {"number": "7200000001"}, headers=headers)
    client.cookies.clear()  # signIn also set the web session cookie
    anonymous = await graphql(client, ACCOUNT, {"number": "7200000001"})

    assert other["data"]["account"] is None
    assert own["data"]["account"]["number"] == "7200000001"
    assert anonymous["data"]["account"] is None


async def test_a_partner_key_reads_only_the_accounts_it_was_granted(
    client: httpx.AsyncClient,
) -> None:
    key = {"x-api-key": "demo-partner-key"}

    granted = await graphql(client, ACCOUNT, {"number": "7200000002"}, headers=key)
    not_granted = await graphql(client, ACCOUNT, {"number": "7200000003"}, headers=key)

    assert granted["data"]["account"]["address"]
    assert not_granted["data"]["account"] is None


async def test_the_dashboard_batches_when_cold_and_calls_nothing_when_warm(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await two_accounts(client)
    forget_calls(emulators)

    cold = await graphql(client, DASHBOARD, headers=headers)
    cold_calls = calls(emulators)
    forget_calls(emulators)
    warm = await graphql(client, DASHBOARD, headers=headers)

    assert "errors" not in cold, cold
    accounts = cold["data"]["me"]["accounts"]
    assert [a["number"] for a in accounts] == ["7200000001", "7200000004"]
    assert cold_calls["billing"] == {"GetAccounts": 1, "GetBalances": 1}
    assert cold_calls["metering"] == {"ListMetersBulk": 1}
    assert warm == cold
    assert calls(emulators) == {name: {} for name in emulators.runtimes}

    first = accounts[0]
    assert first["address"]
    debts = first["debts"]
    groups = ("housing", "housingSeparate", "solidWaste", "capitalRepair")
    total = sum(Decimal(debts[g]) for g in groups) + Decimal(debts["penalties"])
    assert Decimal(debts["total"]) == total
    assert debts["stale"] is False
    assert all(len(debts[g].split(".")[1]) == 2 for g in (*groups, "total"))
    meters = {m["id"]: m for m in first["meters"]}
    assert set(meters) == {"100001", "100002", "100003"}
    assert meters["100001"]["zones"] == ["DAY", "NIGHT"]
    assert meters["100003"]["status"] == "CLOSED"
    assert meters["100003"]["canSubmit"] is False
    assert {r["zone"] for r in meters["100001"]["lastReadings"]} == {"DAY", "NIGHT"}
    assert [m["id"] for m in accounts[1]["meters"]] == ["100006"]


async def test_with_billing_down_the_dashboard_serves_stale_debts_without_errors(
    client: httpx.AsyncClient, emulators: EmulatorHost, clock: Clock
) -> None:
    headers = await two_accounts(client)
    fresh = await graphql(client, DASHBOARD, headers=headers)
    emulators.runtimes["billing"].faults.update({"outage": True})
    clock.advance(timedelta(minutes=10))  # past every billing TTL, within the stale window

    stale = await graphql(client, DASHBOARD, headers=headers)

    assert "errors" not in stale, stale
    for before, after in zip(
        fresh["data"]["me"]["accounts"], stale["data"]["me"]["accounts"], strict=True
    ):
        assert after["debts"]["stale"] is True
        assert after["debts"]["asOf"] == before["debts"]["asOf"]
        assert after["debts"]["total"] == before["debts"]["total"]
        assert after["address"] == before["address"]


async def test_with_billing_down_and_nothing_cached_only_billing_fields_fail(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await two_accounts(client)
    emulators.runtimes["billing"].faults.update({"outage": True})

    body: dict[str, Any] = await graphql(client, DASHBOARD, headers=headers)

    failed = {tuple(e["path"][3:]) for e in body["errors"]}
    assert failed == {("address",), ("debts",)}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    for account in body["data"]["me"]["accounts"]:
        assert account["debts"] is None
        assert account["address"] is None
        assert account["meters"], "metering is up: meters still render"
