"""Steps of customer journeys that several API tests share."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import graphql

DEMO_LOGIN = "7200000001"
DEMO_PASSWORD = "Demo2026!"

SIGN_IN = """
mutation($login: String!, $password: String!) {
  signIn(input: {login: $login, password: $password}) { token errors { code } }
}"""
LINK = """
mutation($number: AccountNumber!, $surname: String!) {
  linkAccount(input: {accountNumber: $number, ownerSurname: $surname}) {
    account { number } errors { code field message }
  }
}"""


def bearer(token: str) -> dict[str, str]:
    """The header of a signed-in mobile client."""
    return {"authorization": f"Bearer {token}"}


async def sign_in_demo(client: httpx.AsyncClient) -> dict[str, str]:
    """Sign the demo customer in; the headers of their requests."""
    body = await graphql(client, SIGN_IN, {"login": DEMO_LOGIN, "password": DEMO_PASSWORD})
    assert body["data"]["signIn"]["errors"] == [], body
    return bearer(body["data"]["signIn"]["token"])


async def link(
    client: httpx.AsyncClient, headers: dict[str, str], number: str, surname: str
) -> dict[str, Any]:
    """Run linkAccount; its payload."""
    body = await graphql(client, LINK, {"number": number, "surname": surname}, headers=headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["linkAccount"]
    return payload
