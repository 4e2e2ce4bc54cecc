"""Sessions and the AUTH-4 / code limits hold across three replicas (GW-4): sessions live in
PostgreSQL, counters in Redis, so which replica the load balancer picks changes nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from emulators.host import EmulatorHost
from gateway.store.models import OneTimeCode
from tests.gateway.accounts.test_accounts_api import UNLINK
from tests.gateway.journeys import DEMO_LOGIN, DEMO_PASSWORD, bearer, link
from tests.scale.fleet import Fleet
from tests.support import graphql, message_count, wait_for_code

pytestmark = pytest.mark.scale

SIGN_IN = """
mutation($login: String!, $password: String!) {
  signIn(input: {login: $login, password: $password}) { token errors { code } }
}"""
SIGN_OUT = "mutation { signOut { signedOut errors { code } } }"
ME = "{ me { login } }"
REGISTER = """
mutation {
  register(input: {accountNumber: "7200000002", ownerSurname: "Петров", password: "Secret12",
    passwordConfirmation: "Secret12", consent: true, policyVersion: "2026-01"}) {
    token errors { code }
  }
}"""
REQUEST_CODE = """
mutation($channel: ContactChannel!, $value: String!) {
  requestContactCode(input: {channel: $channel, value: $value}) { errors { code } }
}"""
CONFIRM = """
mutation($channel: ContactChannel!, $code: String!) {
  confirmContact(input: {channel: $channel, code: $code}) {
    contact { value confirmed } errors { code }
  }
}"""


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def sign_in(client: httpx.AsyncClient, password: str) -> dict[str, Any]:
    body = await graphql(client, SIGN_IN, {"login": DEMO_LOGIN, "password": password})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["signIn"]
    return payload


async def login_of(client: httpx.AsyncClient, headers: dict[str, str]) -> str | None:
    body = await graphql(client, ME, headers=headers)
    assert "errors" not in body, body
    viewer = body["data"]["me"]
    return None if viewer is None else str(viewer["login"])


async def register(client: httpx.AsyncClient) -> dict[str, str]:
    body = await graphql(client, REGISTER)
    assert body["data"]["register"]["errors"] == [], body
    return bearer(body["data"]["register"]["token"])


async def test_a_session_made_on_one_replica_works_on_the_others_until_signed_out(
    fleet: Fleet,
) -> None:
    a, b, c = (fleet.client(n) for n in range(3))
    headers = bearer((await sign_in(a, DEMO_PASSWORD))["token"])

    seen = [await login_of(client, headers) for client in (a, b, c)]
    out = await graphql(b, SIGN_OUT, headers=headers)
    after = [await login_of(client, headers) for client in (a, b, c)]

    assert seen == [DEMO_LOGIN] * 3
    assert out["data"]["signOut"] == {"signedOut": True, "errors": []}
    assert after == [None] * 3


async def test_the_eleventh_sign_in_failure_is_refused_whichever_replica_gets_it(
    fleet: Fleet,
) -> None:
    rr = fleet.round_robin()

    failures = [codes(await sign_in(rr.next(), "Wrong2026!")) for _ in range(10)]
    eleventh = [await sign_in(fleet.client(n), DEMO_PASSWORD) for n in range(3)]

    assert failures == [["INVALID_CREDENTIALS"]] * 10
    assert [codes(p) for p in eleventh] == [["SIGN_IN_LOCKED"]] * 3
    assert [p["token"] for p in eleventh] == [None] * 3


async def test_ten_wrong_codes_at_once_through_three_replicas_spend_only_five_tries(
    fleet: Fleet, emulators: EmulatorHost, database_url: str
) -> None:
    # Given a code sent to a new customer's e-mail
    rr = fleet.round_robin()
    headers = await register(rr.next())
    variables = {"channel": "EMAIL", "value": "p@example.ru"}
    sent = await graphql(rr.next(), REQUEST_CODE, variables, headers=headers)
    assert sent["data"]["requestContactCode"]["errors"] == [], sent
    code = await wait_for_code(f"{emulators.config.mail_url}/mail/messages", {"to": "p@example.ru"})
    wrong = "000000" if code != "000000" else "111111"

    # When ten wrong guesses arrive at once, spread over the replicas, then the right code
    async def guess(client: httpx.AsyncClient, value: str) -> dict[str, Any]:
        body = await graphql(client, CONFIRM, {"channel": "EMAIL", "code": value}, headers=headers)
        payload: dict[str, Any] = body["data"]["confirmContact"]
        return payload

    guesses = await asyncio.gather(*(guess(rr.next(), wrong) for _ in range(10)))
    right = [await guess(fleet.client(n), code) for n in range(3)]
    tries = await spent_tries(database_url)

    # Then the store counted five tries, no more, and the code is burned on every replica
    assert tries == 5
    answers = Counter(code for payload in guesses for code in codes(payload))
    assert set(answers) <= {"CODE_INVALID", "CODE_ATTEMPTS_EXCEEDED"}
    assert answers["CODE_INVALID"] <= 5
    assert answers["CODE_ATTEMPTS_EXCEEDED"] >= 5
    assert [codes(p) for p in right] == [["CODE_ATTEMPTS_EXCEEDED"]] * 3
    assert [p["contact"] for p in right] == [None] * 3


async def spent_tries(database_url: str) -> int:
    """The tries spent on the newest code in the store."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                select(OneTimeCode.attempts).order_by(OneTimeCode.created_at.desc()).limit(1)
            )
            return int(found or 0)
    finally:
        await engine.dispose()


async def test_a_second_code_within_the_cooldown_is_refused_by_another_replica(
    fleet: Fleet, emulators: EmulatorHost
) -> None:
    headers = await register(fleet.client(0))
    variables = {"channel": "PHONE", "value": "+79123456780"}

    first = await graphql(fleet.client(1), REQUEST_CODE, variables, headers=headers)
    second = await graphql(fleet.client(2), REQUEST_CODE, variables, headers=headers)

    assert codes(first["data"]["requestContactCode"]) == []
    assert codes(second["data"]["requestContactCode"]) == ["CODE_RESEND_COOLDOWN"]
    sms = f"{emulators.config.sms_url}/sms/messages"
    assert await message_count(sms, {"phone": "79123456780"}) == 1


async def test_an_answer_kept_on_one_replica_is_forgotten_by_a_change_on_another(
    fleet: Fleet,
) -> None:
    # Given a customer whose account list replica B has just given twice (kept the second time)
    a, b = fleet.client(0), fleet.client(1)
    headers = bearer((await sign_in(a, DEMO_PASSWORD))["token"])
    kept_before = (await fleet.metrics(1)).get(KEPT, 0)
    first = await account_numbers(b, headers)
    assert await account_numbers(b, headers) == first
    assert (await fleet.metrics(1)).get(KEPT, 0) == kept_before + 1

    # When they link another account through replica A
    try:
        assert (await link(a, headers, "7200000004", "Иванова"))["errors"] == []

        # Then replica B's next answer has it
        assert await account_numbers(b, headers) == sorted([*first, "7200000004"])
    finally:
        await graphql(a, UNLINK, {"number": "7200000004"}, headers=headers)


KEPT = 'lkk_graphql_operations_total{operation="Accounts",outcome="kept",type="query"}'
ACCOUNTS = "query Accounts { me { accounts { number } } }"


async def account_numbers(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    body = await graphql(client, ACCOUNTS, headers=headers)
    assert "errors" not in body, body
    return sorted(a["number"] for a in body["data"]["me"]["accounts"])


CONTACTS = "query Contacts { me { phone { value confirmed } } }"
KEPT_CONTACTS = 'lkk_graphql_operations_total{operation="Contacts",outcome="kept",type="query"}'
GIVE_PHONE = """
mutation($value: String!) {
  requestContactCode(input: {channel: PHONE, value: $value}) { errors { code } }
}"""


async def test_a_data_change_on_one_replica_reaches_the_answers_kept_on_another(
    fleet: Fleet,
) -> None:
    # Given a customer whose contacts replica B has just given twice (kept the second time)
    a, b = fleet.client(0), fleet.client(1)
    headers = bearer((await sign_in(a, DEMO_PASSWORD))["token"])
    kept_before = (await fleet.metrics(1)).get(KEPT_CONTACTS, 0)
    first = await graphql(b, CONTACTS, headers=headers)
    assert await graphql(b, CONTACTS, headers=headers) == first
    assert (await fleet.metrics(1)).get(KEPT_CONTACTS, 0) == kept_before + 1

    # When they give a new phone number through replica A (a change of data only: the
    # message says "answers only", and B keeps their session)
    asked = await graphql(a, GIVE_PHONE, {"value": "+7 912 000-44-55"}, headers=headers)
    assert asked["data"]["requestContactCode"]["errors"] == [], asked

    # Then replica B's next answer is run again and shows it
    after = await graphql(b, CONTACTS, headers=headers)
    assert after["data"]["me"]["phone"] == {"value": None, "confirmed": False}
    assert (await fleet.metrics(1)).get(KEPT_CONTACTS, 0) == kept_before + 1
    assert await login_of(b, headers) == DEMO_LOGIN
