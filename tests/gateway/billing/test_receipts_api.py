"""Receipts behind signed links (CHG-1): download, cache, and every way a link is refused."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from emulators.data import add_months
from emulators.host import EmulatorHost
from gateway.clock import Clock
from gateway.services import Services
from tests.gateway.billing.conftest import billing_calls, forget_calls, local
from tests.gateway.journeys import bearer, link, sign_in_demo
from tests.support import graphql

RECEIPT = """
query($number: AccountNumber!, $period: Period!) {
  account(number: $number) { statement(period: $period) { period receiptUrl } }
}"""
REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { token errors { code } } }"""
UNLINK = """
mutation($number: AccountNumber!) {
  unlinkAccount(input: {accountNumber: $number}) { errors { code } }
}"""


def last_published() -> str:
    return f"{add_months(local(1).date(), -2):%Y-%m}"


async def receipt_url(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    number: str = "7200000001",
    period: str | None = None,
) -> str:
    """The path and query of a statement's receipt link."""
    variables = {"number": number, "period": period or last_published()}
    body = await graphql(client, RECEIPT, variables, headers=headers)
    assert "errors" not in body, body
    url: str = body["data"]["account"]["statement"]["receiptUrl"]
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def changed(url: str, *, path: str | None = None, **query: str) -> str:
    """``url`` with its path or some query parameters replaced."""
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params.update(query)
    return f"{path or parts.path}?{urlencode(params)}"


async def register_petrov(client: httpx.AsyncClient) -> dict[str, str]:
    """A second customer (account 7200000002) signed in."""
    variables: dict[str, Any] = {
        "input": {
            "accountNumber": "7200000002",
            "ownerSurname": "Петров",
            "password": "Secret12",
            "passwordConfirmation": "Secret12",
            "consent": True,
            "policyVersion": "2026-01",
        }
    }
    body = await graphql(client, REGISTER, variables)
    assert body["data"]["register"]["errors"] == [], body
    return bearer(body["data"]["register"]["token"])


async def test_the_receipt_downloads_as_an_a4_png_at_300_dpi(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    url = await receipt_url(client, headers)
    period = last_published()

    response = await client.get(url)  # a plain link: no session needed

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"].startswith("private, max-age=")
    assert 0 < int(response.headers["cache-control"].split("=")[1]) <= 3600
    assert response.headers["content-disposition"] == (
        f'inline; filename="receipt_7200000001_{period}.png"'
    )
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert image.format == "PNG"
    assert image.size == (2480, 3508)
    dpi = image.info["dpi"]
    assert (round(dpi[0]), round(dpi[1])) == (300, 300)
    assert billing_calls(emulators).get("GetReceipt") == 1


async def test_a_second_download_is_served_from_the_cache_with_no_billing_call(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    url = await receipt_url(client, headers)
    first = await client.get(url)
    forget_calls(emulators)

    second = await client.get(url, headers=headers)
    revalidated = await client.get(url, headers={"if-none-match": first.headers["etag"]})

    assert second.status_code == 200
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert billing_calls(emulators) == {}


async def test_download_1_asks_the_browser_to_save_the_file(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)
    url = await receipt_url(client, headers)

    response = await client.get(url + "&download=1")

    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")


def _tampered(url: str) -> dict[str, str]:
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    path = urlsplit(url).path
    signature = query["sig"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    earlier = f"{add_months(local(1).date(), -3):%Y-%m}"
    return {
        "signature": changed(url, sig=flipped),
        "expiry": changed(url, exp=str(int(query["exp"]) + 3600)),
        "user": changed(url, u="00000000-0000-0000-0000-000000000001"),
        "period": changed(url, path=path.rsplit("/", 1)[0] + f"/{earlier}"),
        "account": changed(url, path=path.replace("7200000001", "7200000002")),
        "no signature": path + "?" + urlencode({k: v for k, v in query.items() if k != "sig"}),
        "no query": path,
        "garbage": changed(url, exp="soon", u="me"),
    }


@pytest.mark.parametrize(
    "how",
    ["signature", "expiry", "user", "period", "account", "no signature", "no query", "garbage"],
)
async def test_a_tampered_link_is_refused_with_403(
    client: httpx.AsyncClient, emulators: EmulatorHost, how: str
) -> None:
    headers = await sign_in_demo(client)
    url = await receipt_url(client, headers)
    forget_calls(emulators)

    response = await client.get(_tampered(url)[how], headers=headers)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/plain")
    assert "Ссылка на квитанцию недействительна" in response.text
    assert billing_calls(emulators) == {}


async def test_an_expired_link_is_refused_with_403(
    client: httpx.AsyncClient, clock: Clock, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    url = await receipt_url(client, headers)
    expires = int(parse_qs(urlsplit(url).query)["exp"][0])
    assert 3300 <= expires - clock.now().timestamp() <= 3600  # about an hour (LKK default)

    clock.freeze(clock.now() + timedelta(seconds=expires - clock.now().timestamp() - 1))
    still_valid = await client.get(url)
    clock.advance(timedelta(seconds=1))
    expired = await client.get(url)

    assert still_valid.status_code == 200
    assert expired.status_code == 403


async def test_another_customers_session_cannot_use_a_link(client: httpx.AsyncClient) -> None:
    ivanova = await sign_in_demo(client)
    url = await receipt_url(client, ivanova)
    petrov = await register_petrov(client)

    foreign = await client.get(url, headers=petrov)
    own_url = await receipt_url(client, petrov, "7200000002")
    own = await client.get(own_url, headers=petrov)
    forged = await client.get(changed(own_url, path=urlsplit(url).path), headers=petrov)

    assert foreign.status_code == 403
    assert own.status_code == 200
    assert forged.status_code == 403


async def test_a_link_stops_working_once_the_account_is_unlinked(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)
    assert (await link(client, headers, "7200000004", "Иванова"))["errors"] == []
    url = await receipt_url(client, headers, "7200000004")
    assert (await client.get(url)).status_code == 200

    body = await graphql(client, UNLINK, {"number": "7200000004"}, headers=headers)
    assert body["data"]["unlinkAccount"]["errors"] == []
    response = await client.get(url)

    assert response.status_code == 403


async def test_a_partner_key_sees_statements_but_gets_no_receipt_link(
    client: httpx.AsyncClient,
) -> None:
    body = await graphql(
        client,
        RECEIPT,
        {"number": "7200000001", "period": last_published()},
        headers={"x-api-key": "demo-partner-key"},
    )

    assert "errors" not in body, body
    assert body["data"]["account"]["statement"] == {"period": last_published(), "receiptUrl": None}


async def test_a_signed_link_to_an_unpublished_period_is_not_found(
    client: httpx.AsyncClient, app: Starlette, emulators: EmulatorHost
) -> None:
    await sign_in_demo(client)
    services: Services = app.state.services
    demo = await services.identity.authenticate(
        (await sign_in_demo(client))["authorization"].removeprefix("Bearer ")
    )
    assert demo is not None
    not_yet = add_months(local(1).date(), -1)  # last month: out on the 10th
    path = services.billing.receipts.links.path(demo.user_id, "7200000001", not_yet)

    response = await client.get(path)

    assert response.status_code == 404
    assert billing_calls(emulators).get("GetReceipt", 0) == 0


async def test_a_cached_receipt_is_served_while_billing_is_down_and_an_uncached_one_is_503(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    cached = await receipt_url(client, headers)
    older = await receipt_url(client, headers, period=f"{add_months(local(1).date(), -3):%Y-%m}")
    assert (await client.get(cached)).status_code == 200
    emulators.runtimes["billing"].faults.update({"outage": True})

    served = await client.get(cached)
    unavailable = await client.get(older)

    assert served.status_code == 200
    assert unavailable.status_code == 503
    assert unavailable.headers["retry-after"] == "30"
