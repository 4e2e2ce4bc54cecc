"""Contract tests: the acquirer adapter against the running acquirer emulator, over sockets."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.acquirer import (
    SIGNATURE_HEADER,
    AcquirerClient,
    AcquirerPayment,
    AcquirerPaymentStatus,
    Cancellation,
    CancellationParty,
    CardSummary,
    WebhookEventType,
    WebhookRejected,
    WebhookRejectReason,
    parse_payment,
    verify_webhook,
)
from adapters.errors import (
    CircuitOpen,
    NotFound,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.http import UpstreamHttp
from adapters.resilience import Resilience
from emulators.host import EmulatorHost
from tests.adapters.support import Counted, fast_resilience
from tests.emulators.test_acquirer import (
    DECLINED,
    NEEDS_3DS,
    SUCCEEDS,
    TIMES_OUT,
    Received,
    WebhookReceiver,
    eventually,
)

RETURN_URL = "https://lk.example.ru/payments/return"
TIMEOUT = 0.3
TOLERANCE = timedelta(minutes=5)


Acquirer = Counted[AcquirerClient, UpstreamHttp]


def resilience(failure_threshold: int = 100) -> Resilience:
    """Fast retries and a breaker that stays closed unless a test lowers it."""
    return fast_resilience("acquirer", failure_threshold)


async def adapter_for(
    emulators: EmulatorHost, *, secret_key: str | None = None, breaker_threshold: int = 100
) -> tuple[AcquirerClient, UpstreamHttp]:
    """An adapter with its own HTTP client (the caller closes the client)."""
    http = UpstreamHttp(emulators.config.acquirer_url, timeout=TIMEOUT, connect_timeout=TIMEOUT)
    client = AcquirerClient(
        http,
        resilience(breaker_threshold),
        shop_id=emulators.config.acquirer_shop_id,
        secret_key=secret_key or emulators.config.acquirer_secret_key,
    )
    return client, http


@pytest.fixture
async def acquirer(emulators: EmulatorHost) -> AsyncIterator[Acquirer]:
    """The adapter wired as the gateway wires it."""
    client, http = await adapter_for(emulators)
    async with http:
        yield Acquirer(client, http)


@pytest.fixture
async def admin(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the emulator: its pages and admin API, as a browser or a test would."""
    async with httpx.AsyncClient(base_url=emulators.config.acquirer_url, timeout=5) as client:
        # hermetic: no notification leaves for the configured URL unless a test asks
        await client.put("/_admin/webhooks", json={"enabled": False})
        yield client


@pytest.fixture
async def receiver(admin: httpx.AsyncClient) -> AsyncIterator[WebhookReceiver]:
    """A shop endpoint that the acquirer notifies, with fast retries."""
    async with WebhookReceiver().running() as running:
        await admin.put(
            "/_admin/webhooks", json={"url": running.url, "retry_delays_ms": [20], "enabled": True}
        )
        yield running


def faults(emulators: EmulatorHost, **knobs: Any) -> None:
    """Make the acquirer misbehave."""
    emulators.runtimes["acquirer"].faults.update(knobs)


async def new_payment(
    acquirer: Acquirer, key: str = "order-1", amount: str = "1500.00"
) -> AcquirerPayment:
    """A payment created through the adapter."""
    return await acquirer.client.create_payment(
        amount=Decimal(amount),
        idempotence_key=key,
        return_url=RETURN_URL,
        description="Оплата ЛС 7200000001",
        metadata={"account": "7200000001", "group": "HOUSING"},
    )


async def complete(admin: httpx.AsyncClient, payment_id: str, **how: str) -> None:
    """Pay through the emulator's admin helper (same steps as the pages)."""
    answer = await admin.post(f"/_admin/payments/{payment_id}/complete", json=how)
    assert answer.status_code == 200, answer.text


# --- operations ------------------------------------------------------------------------


async def test_create_payment_returns_a_clean_pending_payment(
    acquirer: Acquirer, emulators: EmulatorHost
) -> None:
    # when
    payment = await new_payment(acquirer, amount="1500")

    # then
    assert payment.status is AcquirerPaymentStatus.PENDING
    assert not payment.status.is_final
    assert payment.amount == Decimal("1500.00")
    assert payment.paid is False
    assert payment.confirmation_url == f"{emulators.config.acquirer_url}/checkout/{payment.id}"
    assert payment.created_at.tzinfo is not None
    assert abs(payment.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert payment.description == "Оплата ЛС 7200000001"
    assert dict(payment.metadata) == {"account": "7200000001", "group": "HOUSING"}
    assert payment.cancellation is None
    assert payment.card is None
    assert payment.captured_at is None
    assert payment.test is True


async def test_create_payment_with_the_same_key_returns_the_same_payment(
    acquirer: Acquirer, emulators: EmulatorHost
) -> None:
    # given
    first = await new_payment(acquirer, key="order-7")

    # when
    again = await new_payment(acquirer, key="order-7")

    # then
    assert again == first
    assert emulators.runtimes["acquirer"].calls.snapshot()["CreatePayment"] == 2


async def test_create_payment_repeated_after_payment_returns_the_first_snapshot(
    acquirer: Acquirer, admin: httpx.AsyncClient
) -> None:
    # given
    first = await new_payment(acquirer, key="order-7")
    await complete(admin, first.id, card=SUCCEEDS)

    # when
    replay = await new_payment(acquirer, key="order-7")

    # then: the acquirer replays its first answer; the status now needs a read
    assert replay == first
    assert replay.status is AcquirerPaymentStatus.PENDING
    assert (await acquirer.client.get_payment(first.id)).status is (AcquirerPaymentStatus.SUCCEEDED)


async def test_create_payment_reusing_a_key_for_another_amount_is_rejected(
    acquirer: Acquirer,
) -> None:
    # given
    await new_payment(acquirer, key="order-7", amount="10.00")

    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await new_payment(acquirer, key="order-7", amount="20.00")
    assert raised.value.code == "invalid_request"
    assert "Idempotence-Key" in raised.value.message


async def test_create_payment_with_a_zero_amount_is_rejected_naming_the_field(
    acquirer: Acquirer,
) -> None:
    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await new_payment(acquirer, amount="0")
    assert raised.value.code == "invalid_request"
    assert "amount.value" in raised.value.message
    assert acquirer.requests == 1


async def test_get_payment_of_a_paid_payment_is_succeeded_with_the_card(
    acquirer: Acquirer, admin: httpx.AsyncClient
) -> None:
    # given
    created = await new_payment(acquirer)
    await complete(admin, created.id, card=SUCCEEDS)

    # when
    payment = await acquirer.client.get_payment(created.id)

    # then
    assert payment.status is AcquirerPaymentStatus.SUCCEEDED
    assert payment.status.is_final
    assert payment.paid is True
    assert payment.card == CardSummary(first6="555555", last4="4477", card_type="MasterCard")
    assert payment.captured_at is not None
    assert payment.captured_at.tzinfo is not None
    assert payment.confirmation_url is None
    assert payment.amount == Decimal("1500.00")
    assert payment.created_at == created.created_at


@pytest.mark.parametrize(
    ("how", "party", "reason", "description"),
    [
        (
            {"card": DECLINED},
            CancellationParty.PAYMENT_NETWORK,
            "insufficient_funds",
            "Недостаточно средств на карте",
        ),
        (
            {"card": NEEDS_3DS, "code": "654321"},
            CancellationParty.PAYMENT_NETWORK,
            "3d_secure_failed",
            "Не пройдена проверка 3-D Secure. Попробуйте ещё раз или обратитесь в банк, "
            "выпустивший карту",
        ),
    ],
    ids=["declined", "3ds-failed"],
)
async def test_get_payment_of_a_canceled_payment_explains_why_in_russian(
    acquirer: Acquirer,
    admin: httpx.AsyncClient,
    how: dict[str, str],
    party: CancellationParty,
    reason: str,
    description: str,
) -> None:
    # given
    created = await new_payment(acquirer)
    await complete(admin, created.id, **how)

    # when
    payment = await acquirer.client.get_payment(created.id)

    # then
    assert payment.status is AcquirerPaymentStatus.CANCELED
    assert payment.paid is False
    assert payment.cancellation == Cancellation(party=party, reason=reason)
    assert payment.cancellation.description == description


async def test_get_payment_of_the_time_out_card_stays_pending_then_expires(
    acquirer: Acquirer, admin: httpx.AsyncClient
) -> None:
    # given
    await admin.put("/_admin/processing", json={"processing_timeout_seconds": 0.2})
    created = await new_payment(acquirer)
    await complete(admin, created.id, card=TIMES_OUT)

    # when
    waiting = await acquirer.client.get_payment(created.id)

    # then
    assert waiting.status is AcquirerPaymentStatus.PENDING

    async def expired() -> AcquirerPayment | None:
        now = await acquirer.client.get_payment(created.id)
        return now if now.status is AcquirerPaymentStatus.CANCELED else None

    payment = await eventually(expired)
    assert payment.cancellation == Cancellation(
        party=CancellationParty.ACQUIRER, reason="expired_on_confirmation"
    )
    assert payment.cancellation.description.startswith("Истекло время на оплату")


async def test_get_payment_of_an_unknown_id_is_not_found(acquirer: Acquirer) -> None:
    # when / then
    with pytest.raises(NotFound):
        await acquirer.client.get_payment("3f1c0d3e-0000-4000-8000-000000000000")
    assert acquirer.requests == 1


async def test_ping_reaches_the_acquirer(acquirer: Acquirer, emulators: EmulatorHost) -> None:
    # when
    await acquirer.client.ping()

    # then
    assert emulators.runtimes["acquirer"].calls.snapshot() == {"GetMe": 1}


async def test_wrong_shop_credentials_are_rejected_as_unauthorized(
    emulators: EmulatorHost,
) -> None:
    # given
    client, http = await adapter_for(emulators, secret_key="not-the-secret")
    async with http:
        # when
        calls = [
            client.ping(),
            client.get_payment("3f1c0d3e-0000-4000-8000-000000000000"),
            client.create_payment(Decimal("1"), "k", RETURN_URL, "x", {}),
        ]
        for call in calls:
            # then
            with pytest.raises(UpstreamRejected) as raised:
                await call
            assert raised.value.code == "UNAUTHORIZED"


# --- the customer's journey through the pages ------------------------------------------


async def test_the_customer_pays_through_the_card_and_3ds_pages(
    acquirer: Acquirer, admin: httpx.AsyncClient
) -> None:
    # given
    created = await new_payment(acquirer)
    assert created.confirmation_url is not None

    # when
    card_page = await admin.get(created.confirmation_url)
    to_bank = await admin.post(
        created.confirmation_url,
        data={"card_number": NEEDS_3DS, "expiry": "11/33", "cvc": "321"},
    )
    bank_page = await admin.get(to_bank.headers["location"])
    back = await admin.post(to_bank.headers["location"], data={"code": "123456"})

    # then
    assert "Оплатить 1\u00a0500,00\u00a0₽" in card_page.text
    assert to_bank.status_code == 303
    assert "Код из SMS" in bank_page.text
    assert back.status_code == 303
    assert back.headers["location"] == RETURN_URL
    payment = await acquirer.client.get_payment(created.id)
    assert payment.status is AcquirerPaymentStatus.SUCCEEDED
    assert payment.card == CardSummary(first6="555555", last4="4444", card_type="MasterCard")


# --- faults ----------------------------------------------------------------------------


async def test_latency_beyond_the_timeout_is_a_timeout_after_three_tries(
    acquirer: Acquirer, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, latency_ms=TIMEOUT * 1000 + 200)

    # when / then
    with pytest.raises(UpstreamTimeout):
        await acquirer.client.get_payment("3f1c0d3e-0000-4000-8000-000000000000")
    assert acquirer.requests == 3


async def test_a_slow_body_beyond_the_read_timeout_is_a_timeout(
    acquirer: Acquirer, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, slow_body_ms=TIMEOUT * 1000 * 20)

    # when / then
    with pytest.raises(UpstreamTimeout):
        await acquirer.client.ping()


async def test_an_internal_error_is_unavailable_and_create_is_retried(
    acquirer: Acquirer, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, error_rate=1)

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await new_payment(acquirer)
    assert type(raised.value) is UpstreamUnavailable
    assert "HTTP 500" in raised.value.message
    assert acquirer.requests == 3


async def test_an_outage_is_unavailable(acquirer: Acquirer, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, outage=True)

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await acquirer.client.get_payment("3f1c0d3e-0000-4000-8000-000000000000")
    assert type(raised.value) is UpstreamUnavailable
    assert "HTTP 503" in raised.value.message


async def test_ping_is_not_retried(acquirer: Acquirer, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, outage=True)

    # when / then
    with pytest.raises(UpstreamUnavailable):
        await acquirer.client.ping()
    assert acquirer.requests == 1


async def test_a_malformed_answer_is_malformed(acquirer: Acquirer, emulators: EmulatorHost) -> None:
    # given
    created = await new_payment(acquirer)
    faults(emulators, malformed=True)

    # when / then
    with pytest.raises(UpstreamMalformed):
        await acquirer.client.get_payment(created.id)


async def test_a_transient_error_on_create_is_retried_into_one_payment(
    acquirer: Acquirer, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given: the acquirer fails the first try only
    runtime = emulators.runtimes["acquirer"]
    seed = next(s for s in range(1000) if _fails_then_succeeds(s, rate=0.5))
    runtime.rng.seed(seed)
    faults(emulators, error_rate=0.5)

    # when
    payment = await new_payment(acquirer)

    # then
    assert acquirer.requests == 2
    assert acquirer.client.resilience.retries == 1
    assert runtime.calls.snapshot() == {"CreatePayment": 1}
    listing = (await admin.get("/_admin/payments")).json()
    assert [item["payment"]["id"] for item in listing] == [payment.id]


def _fails_then_succeeds(seed: int, *, rate: float) -> bool:
    draws = random.Random(seed)
    return draws.random() < rate <= draws.random()


async def test_a_create_that_timed_out_and_is_repeated_makes_one_payment(
    acquirer: Acquirer, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given: every try times out at the gateway, but the acquirer serves them all late
    runtime = emulators.runtimes["acquirer"]
    faults(emulators, latency_ms=TIMEOUT * 1000 + 100)
    with pytest.raises(UpstreamTimeout):
        await new_payment(acquirer, key="order-late")
    await eventually(lambda: runtime.calls.snapshot().get("CreatePayment") == 3)
    faults(emulators, latency_ms=0)

    # when
    payment = await new_payment(acquirer, key="order-late")

    # then
    listing = (await admin.get("/_admin/payments")).json()
    assert [item["payment"]["id"] for item in listing] == [payment.id]


async def test_the_breaker_opens_and_spares_the_acquirer(emulators: EmulatorHost) -> None:
    # given
    client, http = await adapter_for(emulators, breaker_threshold=3)
    async with http:
        acquirer = Acquirer(client, http)
        faults(emulators, outage=True)
        with pytest.raises(UpstreamUnavailable):
            await client.get_payment("3f1c0d3e-0000-4000-8000-000000000000")

        # when / then
        with pytest.raises(CircuitOpen):
            await client.get_payment("3f1c0d3e-0000-4000-8000-000000000000")
        assert acquirer.requests == 3


# --- parsing quirks --------------------------------------------------------------------


def raw_payment(**changes: Any) -> dict[str, Any]:
    """A payment JSON as the acquirer writes it."""
    body: dict[str, Any] = {
        "id": "2f6e3a1c-000f-5000-9000-1edaf29243f2",
        "status": "pending",
        "paid": False,
        "amount": {"value": "99.90", "currency": "RUB"},
        "created_at": "2025-03-01T09:15:02.113Z",
        "confirmation": {"type": "redirect", "confirmation_url": "https://pay/checkout/1"},
        "test": False,
        "metadata": {"account": "7200000001"},
        "some_new_field": {"ignored": True},
    }
    body.update(changes)
    return body


def test_parsing_absorbs_string_amounts_and_zulu_times() -> None:
    # when
    payment = parse_payment(raw_payment())

    # then
    assert payment == AcquirerPayment(
        id="2f6e3a1c-000f-5000-9000-1edaf29243f2",
        status=AcquirerPaymentStatus.PENDING,
        amount=Decimal("99.90"),
        paid=False,
        created_at=datetime(2025, 3, 1, 9, 15, 2, 113000, tzinfo=UTC),
        confirmation_url="https://pay/checkout/1",
        metadata=payment.metadata,
        test=False,
    )
    assert dict(payment.metadata) == {"account": "7200000001"}


def test_an_unknown_reason_code_still_has_a_russian_description() -> None:
    # when
    payment = parse_payment(
        raw_payment(
            status="canceled",
            cancellation_details={"party": "merchant", "reason": "brand_new_reason"},
        )
    )

    # then
    assert payment.cancellation == Cancellation(CancellationParty.MERCHANT, "brand_new_reason")
    assert payment.cancellation.description.startswith("Платёж не прошёл")


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "refunded_somehow"},
        {"amount": {"value": "12,50", "currency": "RUB"}},
        {"amount": {"value": "12.50", "currency": "USD"}},
        {"created_at": "2025-03-01T09:15:02"},
        {"paid": "false"},
        {"status": "canceled"},
        {"id": None},
    ],
    ids=["status", "comma", "currency", "naive-time", "paid-text", "no-details", "no-id"],
)
def test_a_payment_out_of_contract_is_malformed(changes: dict[str, Any]) -> None:
    # when / then
    with pytest.raises(UpstreamMalformed):
        parse_payment(raw_payment(**changes))


# --- webhooks --------------------------------------------------------------------------


async def notification(
    acquirer: Acquirer, admin: httpx.AsyncClient, receiver: WebhookReceiver, card: str
) -> tuple[AcquirerPayment, Received]:
    """Pay a new payment with ``card``; return it and the notification the shop got."""
    created = await new_payment(acquirer)
    await complete(admin, created.id, card=card)
    await eventually(lambda: receiver.received)
    return created, receiver.received[0]


async def test_a_signed_notification_is_verified_and_parsed(
    acquirer: Acquirer,
    admin: httpx.AsyncClient,
    receiver: WebhookReceiver,
    emulators: EmulatorHost,
) -> None:
    # given
    created, received = await notification(acquirer, admin, receiver, SUCCEEDS)

    # when
    event = verify_webhook(
        received.body,
        received.headers[SIGNATURE_HEADER.lower()],
        emulators.config.webhook_secret,
        datetime.now(UTC),
        TOLERANCE,
    )

    # then
    assert event.type is WebhookEventType.PAYMENT_SUCCEEDED
    assert event.payment == await acquirer.client.get_payment(created.id)
    assert abs(event.signed_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_cancellation_notification_carries_the_reason(
    acquirer: Acquirer,
    admin: httpx.AsyncClient,
    receiver: WebhookReceiver,
    emulators: EmulatorHost,
) -> None:
    # given
    _, received = await notification(acquirer, admin, receiver, DECLINED)

    # when
    event = verify_webhook(
        received.body,
        received.headers[SIGNATURE_HEADER.lower()],
        emulators.config.webhook_secret,
        datetime.now(UTC),
        TOLERANCE,
    )

    # then
    assert event.type is WebhookEventType.PAYMENT_CANCELED
    assert event.payment.cancellation == Cancellation(
        CancellationParty.PAYMENT_NETWORK, "insufficient_funds"
    )


async def test_a_notification_signed_by_an_old_clock_is_stale(
    acquirer: Acquirer,
    admin: httpx.AsyncClient,
    receiver: WebhookReceiver,
    emulators: EmulatorHost,
) -> None:
    # given
    await admin.put("/_admin/clock", json={"offset_seconds": -3600})
    _, received = await notification(acquirer, admin, receiver, SUCCEEDS)

    # when / then
    with pytest.raises(WebhookRejected) as raised:
        verify_webhook(
            received.body,
            received.headers[SIGNATURE_HEADER.lower()],
            emulators.config.webhook_secret,
            datetime.now(UTC),
            TOLERANCE,
        )
    assert raised.value.reason is WebhookRejectReason.STALE_SIGNATURE


def _tampered(body: bytes) -> bytes:
    return body.replace(b'"succeeded"', b'"canceled"', 1)


@pytest.mark.parametrize(
    ("body", "header", "secret", "reason"),
    [
        (_tampered, None, None, WebhookRejectReason.WRONG_SIGNATURE),
        (None, None, "another-secret", WebhookRejectReason.WRONG_SIGNATURE),
        (None, "", None, WebhookRejectReason.MISSING_SIGNATURE),
        (None, "sha256=abc", None, WebhookRejectReason.MALFORMED_SIGNATURE),
        (None, "t=soon,v1=abc", None, WebhookRejectReason.MALFORMED_SIGNATURE),
        (None, "t=1700000000", None, WebhookRejectReason.MALFORMED_SIGNATURE),
    ],
    ids=["tampered-body", "wrong-secret", "missing", "no-pairs", "bad-time", "no-v1"],
)
async def test_an_untrustworthy_notification_is_rejected(
    acquirer: Acquirer,
    admin: httpx.AsyncClient,
    receiver: WebhookReceiver,
    emulators: EmulatorHost,
    body: Any,
    header: str | None,
    secret: str | None,
    reason: WebhookRejectReason,
) -> None:
    # given
    _, received = await notification(acquirer, admin, receiver, SUCCEEDS)
    raw = body(received.body) if body else received.body
    signature = received.headers[SIGNATURE_HEADER.lower()] if header is None else header

    # when / then
    with pytest.raises(WebhookRejected) as raised:
        verify_webhook(
            raw,
            signature,
            secret or emulators.config.webhook_secret,
            datetime.now(UTC),
            TOLERANCE,
        )
    assert raised.value.reason is reason


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The documented signature scheme, written out independently of the emulator."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def test_a_correctly_signed_body_that_is_no_notification_is_rejected() -> None:
    # given
    body = b'{"type":"ping"}'
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    # when / then
    with pytest.raises(WebhookRejected) as raised:
        verify_webhook(body, sign("s", int(now.timestamp()), body), "s", now, TOLERANCE)
    assert raised.value.reason is WebhookRejectReason.MALFORMED_BODY


def test_a_signature_from_the_future_beyond_tolerance_is_stale() -> None:
    # given
    body = b'{"type":"notification"}'
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    header = sign("s", int((now + timedelta(minutes=6)).timestamp()), body)

    # when / then
    with pytest.raises(WebhookRejected) as raised:
        verify_webhook(body, header, "s", now, TOLERANCE)
    assert raised.value.reason is WebhookRejectReason.STALE_SIGNATURE
