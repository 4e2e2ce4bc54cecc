"""A card payment in a real browser (PAY-3..5, Done-when of issue 6): Chromium pays on the
acquirer's card page with the 3-D Secure test card, lands on the gateway's return page and
sees it turn «Зачислен», while a WebSocket subscriber receives every state change and the
payment shows as BOOKED in ``Account.payments`` and in billing.

Needs Debian's ``chromium`` (``apt-get install -y chromium chromium-driver``) and Playwright
for Python (the ``dev`` extra); no ``playwright install``: the system browser is used.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from emulators.host import EmulatorHost
from gateway.clock import Clock
from tests.gateway.journeys import sign_in_demo
from tests.gateway.payments.support import (
    ACCOUNT,
    THREE_DS,
    THREE_DS_CODE,
    Acquirer,
    LiveGateway,
    Subscriber,
    live_gateway,
    payment_input,
    payments_of,
    start_payment,
)
from tests.support import skip_unless_ci

pytestmark = pytest.mark.e2e


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, or a skip (a failure in CI) saying how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        skip_unless_ci("needs Debian's chromium (apt-get install chromium chromium-driver)")
    assert found is not None
    return found


@pytest.fixture
async def live(emulators: EmulatorHost, tmp_path: Path) -> AsyncIterator[LiveGateway]:
    """The gateway on a real port that the browser and the acquirer's webhooks reach."""
    async with live_gateway(emulators, tmp_path, Clock()) as gateway:
        await Acquirer(emulators).webhooks(
            url=f"{gateway.url}/webhooks/acquirer", retry_delays_ms=[200, 500, 1000]
        )
        yield gateway


async def test_a_customer_pays_with_3ds_in_chromium_and_sees_the_payment_booked(
    chromium: str, live: LiveGateway, emulators: EmulatorHost
) -> None:
    # Given a signed-in customer who started a payment and follows it over a WebSocket
    async with live.client() as http:
        headers = await sign_in_demo(http)
        started = await start_payment(
            http, headers, payment_input(returnUrl=f"{live.url}/privacy", amount="1234.50")
        )
    payment_id = started["payment"]["id"]
    token = headers["authorization"].removeprefix("Bearer ")
    assert started["errors"] == []

    async with Subscriber.open(live.ws_url, payment_id, token=token) as subscriber:
        # When they pay in a real browser: card page, 3-D Secure, back to the gateway
        async with async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path=chromium, headless=True)
            try:
                page = await browser.new_page(locale="ru-RU")
                await page.goto(started["confirmationUrl"])
                await page.fill("#card_number", THREE_DS)
                await page.fill("#expiry", "12/30")
                await page.fill("#cvc", "123")
                await page.click("button[type=submit]")
                await page.wait_for_url("**/3ds/**")
                await page.fill("#code", THREE_DS_CODE)
                await page.click("button[value=confirm]")
                await page.wait_for_url(f"**/payments/{payment_id}/return?sig=*")
                landed = await page.inner_text("h1")
                # the page follows the payment by itself until billing books it
                await page.wait_for_selector('#status[data-status="BOOKED"]', timeout=20_000)
                status_text = await page.inner_text("#status")
                message = await page.inner_text("#message")
            finally:
                await browser.close()
        await asyncio.wait_for(subscriber.completed.wait(), 15)

    # Then the subscriber saw every change, and the payment is booked everywhere
    async with live.client() as http:
        history = await payments_of(http, await sign_in_demo(http))
    today = datetime.now(UTC).date()
    in_billing = [
        p
        for p in await live.services.upstreams.billing.get_payments(
            ACCOUNT, today - timedelta(days=2), today + timedelta(days=2)
        )
        if p.external_id == payment_id
    ]

    assert landed == f"Оплата по лицевому счёту {ACCOUNT}"
    assert status_text == "Зачислен"
    assert message == "Платёж зачислен на лицевой счёт."
    assert subscriber.errors == []
    assert subscriber.statuses == ["PENDING", "SUCCEEDED", "BOOKED"]
    mine = [p for p in history if p["id"] == payment_id]
    assert [(p["status"], p["amount"]) for p in mine] == [("BOOKED", "1234.50")]
    assert len(in_billing) == 1
    assert str(in_billing[0].amount) == "1234.50"
    assert emulators.runtimes["billing"].calls.snapshot()["PostPayment"] == 1
