"""The return page (PAY-3): where the customer lands after the card page and 3-D Secure;
Russian, signed, and following the payment by itself."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from emulators.host import EmulatorHost
from gateway.settings import Settings
from tests.gateway.journeys import sign_in_demo
from tests.gateway.payments.support import (
    DECLINED,
    RETURN_URL,
    SUCCEEDS,
    Acquirer,
    acquirer_id,
    fast_settings,
    payment_input,
    start_payment,
)


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    return fast_settings(emulators, tmp_path)


async def return_path(client: httpx.AsyncClient, emulators: EmulatorHost) -> tuple[str, str]:
    """Start a payment; the path of the return page the acquirer was given, and the
    acquirer's id of the payment."""
    payload = await start_payment(client, await sign_in_demo(client), payment_input())
    held = await Acquirer(emulators).payments()
    url = urlsplit(held[0]["return_url"])
    return f"{url.path}?{url.query}", acquirer_id(payload)


async def test_the_page_shows_the_pending_payment_in_russian(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    path, _ = await return_path(client, emulators)

    page = await client.get(path)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'nonce-" in page.headers["content-security-policy"]
    assert 'lang="ru"' in page.text
    assert "Оплата по лицевому счёту 7200000001" in page.text
    assert "1\u00a0234,50\u00a0₽" in page.text
    assert 'data-status="PENDING"' in page.text
    assert "Ожидает оплаты" in page.text
    assert f'href="{RETURN_URL}"' in page.text
    assert "/status?sig=" in page.text  # it polls while the payment is not final


async def test_the_page_asks_the_acquirer_when_the_webhook_is_late(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    path, paid_at_acquirer = await return_path(client, emulators)
    await Acquirer(emulators).complete(paid_at_acquirer, SUCCEEDS)
    status_path = path.replace("/return?", "/status?")

    state = (await client.get(status_path)).json()
    page = await client.get(path)

    assert state["status"] in {"SUCCEEDED", "BOOKED"}
    assert state["statusText"] in {"Оплачен, ожидает зачисления", "Зачислен"}
    assert state["final"] is (state["status"] == "BOOKED")
    assert 'data-status="PENDING"' not in page.text


async def test_a_declined_payment_shows_the_reason(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    path, at_acquirer = await return_path(client, emulators)
    await Acquirer(emulators).complete(at_acquirer, DECLINED)

    page = await client.get(path)
    state = (await client.get(path.replace("/return?", "/status?"))).json()

    assert "Не выполнен" in page.text
    assert "Недостаточно средств на карте" in page.text
    assert "<script" not in page.text  # final: nothing to follow
    assert state == {
        "status": "FAILED",
        "statusText": "Не выполнен",
        "message": "Недостаточно средств на карте",
        "final": True,
    }


@pytest.mark.parametrize("tamper", ["signature", "id", "missing"])
async def test_a_link_the_gateway_did_not_sign_shows_nothing(
    client: httpx.AsyncClient, emulators: EmulatorHost, tamper: str
) -> None:
    path, _ = await return_path(client, emulators)
    if tamper == "signature":
        path = path[:-4] + "0000"
    elif tamper == "id":
        path = "/payments/6f1d3c52-8d9b-4c1e-9a57-2f4e0c7b9a10/return?" + path.split("?")[1]
    else:
        path = path.split("?")[0]

    page = await client.get(path)
    state = await client.get(path.replace("/return", "/status"))

    assert page.status_code == 404
    assert "Платёж не найден" in page.text
    assert "7200000001" not in page.text
    assert state.status_code == 404
