"""Contract tests: the billing adapter against the running billing emulator, over sockets."""

from __future__ import annotations

import io
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PIL import Image

from adapters.billing import (
    MAX_BATCH,
    WSDL_PATH,
    AccountBalance,
    AccountStatus,
    BillingAccount,
    BillingClient,
    BookedPayment,
    GroupBalance,
    PostedPayment,
    SupplierGroup,
    soap_http,
)
from adapters.errors import (
    CircuitOpen,
    NotFound,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.resilience import Resilience
from emulators.base import UTILITY_TZ
from emulators.data import SupplierGroup as DemoGroup
from emulators.data import build
from emulators.host import EmulatorHost
from tests.adapters.support import Counted, fast_resilience

TIMEOUT = 2.0
"""Generous for the calls that should succeed (a receipt is drawn on first request)."""
SHORT_TIMEOUT = 0.3
"""For the tests that make billing too slow on purpose."""
MID_MARCH = datetime(2026, 3, 15, 12, 0, tzinfo=UTILITY_TZ)
AT_PUBLICATION = datetime(2026, 3, 10, 0, 0, tzinfo=UTILITY_TZ)
DEMO = ("7200000001", "7200000002", "7200000003", "7200000004")

Billing = Counted[BillingClient, httpx.AsyncClient]


def resilience(failure_threshold: int = 100) -> Resilience:
    """Fast retries and a breaker that stays closed unless a test lowers it."""
    return fast_resilience("billing", failure_threshold)


@asynccontextmanager
async def adapter_for(
    emulators: EmulatorHost, *, seconds: float = TIMEOUT, breaker_threshold: int = 100
) -> AsyncIterator[Billing]:
    """The adapter wired as the gateway wires it (``gateway/upstreams.py``)."""
    url = emulators.config.billing_url
    async with soap_http(url, timeout=seconds, connect_timeout=seconds) as http:
        yield Billing(BillingClient(http, resilience(breaker_threshold), url=url), http)


@pytest.fixture
async def billing(emulators: EmulatorHost) -> AsyncIterator[Billing]:
    """The adapter, with a timeout no healthy call reaches."""
    async with adapter_for(emulators) as adapter:
        yield adapter


@pytest.fixture
async def admin(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to billing's admin API."""
    config = emulators.config
    async with httpx.AsyncClient(base_url=config.url(config.billing_port), timeout=5) as client:
        yield client


async def freeze(admin: httpx.AsyncClient, moment: datetime) -> None:
    """Stop billing's clock at ``moment``."""
    answer = await admin.put("/_admin/clock", json={"now": moment.isoformat()})
    assert answer.status_code == 200, answer.text


async def served(admin: httpx.AsyncClient) -> dict[str, Any]:
    """Billing's call log: ``{"total": n, "operations": {...}}``."""
    counts: dict[str, Any] = (await admin.get("/_admin/calls")).json()
    return counts


def faults(emulators: EmulatorHost, **knobs: Any) -> None:
    """Make billing misbehave."""
    emulators.runtimes["billing"].faults.update(knobs)


async def pay(
    billing: Billing,
    external_id: str = "lkk-7",
    amount: str = "1500.00",
    group: SupplierGroup = SupplierGroup.HOUSING,
    paid_at: datetime = MID_MARCH - timedelta(minutes=2),
) -> PostedPayment:
    """Post a payment to 7200000001 through the adapter."""
    return await billing.client.post_payment(
        external_id, "7200000001", group, Decimal(amount), paid_at, "acq-2f9c"
    )


# --- the contract ----------------------------------------------------------------------


async def test_the_pinned_wsdl_is_the_one_billing_serves(
    admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    served_wsdl = (await admin.get("/billing?wsdl")).content

    # then: the same document, but for the address billing names itself
    pinned = WSDL_PATH.read_bytes()
    assert b'location="http://127.0.0.1:8101/billing"' in pinned
    own = f'location="{emulators.config.billing_url}"'.encode()
    assert served_wsdl.replace(own, b'location="http://127.0.0.1:8101/billing"') == pinned


async def test_building_the_client_fetches_nothing_and_keeps_the_clients_headers(
    emulators: EmulatorHost, admin: httpx.AsyncClient
) -> None:
    # given
    url = emulators.config.billing_url
    async with soap_http(
        url, timeout=TIMEOUT, connect_timeout=TIMEOUT, headers={"X-Request-Source": "lkk"}
    ) as http:
        # when
        BillingClient(http, resilience(), url=url)

        # then
        assert http.headers["X-Request-Source"] == "lkk"
    assert (await served(admin))["total"] == 0


# --- accounts and balances -------------------------------------------------------------


async def test_get_accounts_asks_billing_once_for_many_numbers(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # when
    accounts = await billing.client.get_accounts(
        [*DEMO, "7200000099", "7200000001", "not-a-number"]
    )

    # then
    assert set(accounts) == set(DEMO)
    assert accounts["7200000003"] == BillingAccount(
        number="7200000003",
        owner_name="СЕМИНА ОЛЬГА",
        address="625026, Тюменская обл., г. Тюмень, ул. Мельникайте, д. 100, кв. 12",
        status=AccountStatus.OPEN,
        opened_on=date(2012, 6, 1),
    )
    assert accounts["7200000001"].owner_name == "ИВАНОВА МАРИЯ ПЕТРОВНА"
    assert await served(admin) == {"total": 1, "operations": {"GetAccounts": 1}}


async def test_get_accounts_beyond_a_batch_takes_one_call_per_batch(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # given
    many = [f"72000{i:05d}" for i in range(1, 2 * MAX_BATCH + 21)]

    # when
    accounts = await billing.client.get_accounts(many)

    # then
    assert set(accounts) == set(DEMO)
    assert (await served(admin))["operations"] == {"GetAccounts": 3}


async def test_get_accounts_of_nothing_asks_nothing(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # when
    accounts = await billing.client.get_accounts(["", "123"])

    # then
    assert accounts == {}
    assert billing.requests == 0


async def test_get_balances_gives_each_group_in_decimals(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # given
    await freeze(admin, MID_MARCH)
    demo = {(b.account, b.group.value): b for b in build(MID_MARCH.date()).balances}

    # when
    balances = await billing.client.get_balances(["7200000001", "7200000003", "7200000099"])

    # then
    assert set(balances) == {"7200000001", "7200000003"}
    first = balances["7200000001"]
    assert isinstance(first, AccountBalance)
    assert first.as_of == MID_MARCH.astimezone(UTC)
    assert first.as_of.tzinfo is UTC
    assert set(first.groups) == set(SupplierGroup)
    for group, balance in first.groups.items():
        expected = demo["7200000001", group.value]
        assert balance == GroupBalance(debt=expected.debt, penalties=expected.penalties)
        assert balance.debt > 0
    assert first.total == first.debt + first.penalties
    assert first.debt == sum((b.debt for b in first.groups.values()), Decimal(0))
    assert balances["7200000003"].debt < 0
    assert (await served(admin))["operations"] == {"GetBalances": 1}


# --- statements and receipts -----------------------------------------------------------


async def test_get_statements_returns_published_months_newest_first(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # given
    await freeze(admin, AT_PUBLICATION)
    demo = {
        s.period: s for s in build(AT_PUBLICATION.date()).statements if s.account == "7200000001"
    }

    # when: the range runs into the open month
    statements = await billing.client.get_statements(
        "7200000001", date(2025, 11, 1), date(2026, 3, 31)
    )

    # then
    periods = [s.period for s in statements]
    assert periods == [date(2026, 2, 1), date(2026, 1, 1), date(2025, 12, 1), date(2025, 11, 1)]
    for statement in statements:
        expected = demo[statement.period]
        assert statement.number == "7200000001"
        assert statement.opening_balance == expected.opening_balance
        assert statement.penalties == expected.penalties
        assert statement.paid == expected.paid
        assert statement.closing_balance == expected.closing_balance
        assert statement.due_date == expected.due_date
        assert [c.service for c in statement.charges] == [c.service for c in expected.charges]
        assert [c.amount for c in statement.charges] == [c.amount for c in expected.charges]
        assert statement.charged == sum((c.amount for c in statement.charges), Decimal(0))
        assert set(statement.groups) == set(SupplierGroup)
        housing = statement.groups[SupplierGroup.HOUSING]
        assert housing.closing_balance == expected.groups[DemoGroup.HOUSING].closing
    electricity = next(c for c in statements[0].charges if c.unit == "кВт·ч")
    assert electricity.group is SupplierGroup.HOUSING
    assert electricity.tariff is not None
    assert electricity.volume is not None
    assert electricity.amount == (electricity.tariff * electricity.volume).quantize(Decimal("0.01"))


async def test_get_statements_of_an_unknown_account_is_not_found(billing: Billing) -> None:
    # when / then
    with pytest.raises(NotFound) as raised:
        await billing.client.get_statements("7200000099", date(2025, 1, 1), date(2025, 6, 1))
    assert raised.value.code == "ACCOUNT_NOT_FOUND"
    assert raised.value.message == "Лицевой счёт 7200000099 не найден"
    assert billing.requests == 1


async def test_a_refused_request_is_rejected_with_billings_code_and_not_retried(
    billing: Billing,
) -> None:
    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await billing.client.get_statements("7200000001", date(2025, 6, 1), date(2025, 1, 1))
    assert raised.value.code == "INVALID_REQUEST"
    assert "FromPeriod" in raised.value.message
    assert billing.requests == 1


async def test_get_receipt_returns_the_png(billing: Billing, admin: httpx.AsyncClient) -> None:
    # given
    await freeze(admin, MID_MARCH)

    # when
    png = await billing.client.get_receipt("7200000001", date(2026, 2, 14))

    # then
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (2480, 3508)
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)


async def test_get_receipt_of_an_open_month_is_rejected_not_missing(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # given
    await freeze(admin, MID_MARCH)

    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await billing.client.get_receipt("7200000001", date(2026, 3, 1))
    assert not isinstance(raised.value, NotFound)
    assert raised.value.code == "PERIOD_NOT_CLOSED"
    assert "не закрыт" in raised.value.message


async def test_get_receipt_of_a_month_without_a_statement_is_not_found(
    billing: Billing,
) -> None:
    # when / then
    with pytest.raises(NotFound) as raised:
        await billing.client.get_receipt("7200000001", date(2019, 1, 1))
    assert raised.value.code == "STATEMENT_NOT_FOUND"


# --- payments --------------------------------------------------------------------------


async def test_post_payment_is_accepted_then_booked_and_listed(
    billing: Billing, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await freeze(admin, MID_MARCH)
    before = (await billing.client.get_balances(["7200000001"]))["7200000001"]

    # when
    posted = await pay(billing, amount="1500")
    pending = await billing.client.get_payments("7200000001", date(2026, 3, 1), date(2026, 3, 31))
    delay = timedelta(seconds=emulators.config.booking_delay_seconds)
    await freeze(admin, MID_MARCH + delay)
    booked = await billing.client.get_payments("7200000001", date(2026, 3, 1), date(2026, 3, 31))
    after = (await billing.client.get_balances(["7200000001"]))["7200000001"]

    # then
    assert posted == PostedPayment(
        payment_id="LK0000000001", external_id="lkk-7", accepted_at=MID_MARCH.astimezone(UTC)
    )
    assert [p.external_id for p in pending] == []
    mine = [p for p in booked if p.external_id == "lkk-7"]
    assert mine == [
        BookedPayment(
            payment_id="LK0000000001",
            external_id="lkk-7",
            group=SupplierGroup.HOUSING,
            amount=Decimal("1500.00"),
            paid_at=(MID_MARCH - timedelta(minutes=2)).astimezone(UTC),
            booked_at=(MID_MARCH + delay).astimezone(UTC).replace(microsecond=0),
            channel="ЛКК",
            acquirer_ref="acq-2f9c",
        )
    ]
    housing = SupplierGroup.HOUSING
    assert after.groups[housing].debt == before.groups[housing].debt - Decimal("1500.00")
    assert after.groups[SupplierGroup.SOLID_WASTE] == before.groups[SupplierGroup.SOLID_WASTE]


async def test_post_payment_repeated_returns_the_first_answer(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # given
    await freeze(admin, MID_MARCH)
    first = await pay(billing)

    # when
    await freeze(admin, MID_MARCH + timedelta(minutes=5))
    again = await pay(billing)

    # then
    assert again == first
    assert (await served(admin))["operations"] == {"PostPayment": 2}


async def test_post_payment_reusing_an_id_for_another_amount_is_rejected(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # given
    await freeze(admin, MID_MARCH)
    await pay(billing, amount="100.00")

    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await pay(billing, amount="200.00")
    assert raised.value.code == "DUPLICATE_EXTERNAL_ID"
    assert "lkk-7" in raised.value.message
    assert billing.requests == 2


async def test_post_payment_rounds_the_amount_to_kopecks(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # given
    await freeze(admin, MID_MARCH)
    await pay(billing, amount="10.005")

    # when
    await freeze(admin, MID_MARCH + timedelta(seconds=1))
    listed = await billing.client.get_payments("7200000001", date(2026, 3, 15), date(2026, 3, 15))

    # then
    assert [(p.external_id, p.amount) for p in listed] == [("lkk-7", Decimal("10.01"))]


async def test_post_payment_needs_an_aware_time(billing: Billing) -> None:
    # when / then
    with pytest.raises(ValueError, match="time zone"):
        await pay(billing, paid_at=MID_MARCH.replace(tzinfo=None))
    assert billing.requests == 0


async def test_post_payment_for_an_unknown_account_is_not_found(billing: Billing) -> None:
    # when / then
    with pytest.raises(NotFound) as raised:
        await billing.client.post_payment(
            "lkk-8",
            "7200000099",
            SupplierGroup.CAPITAL_REPAIR,
            Decimal("10"),
            datetime.now(UTC),
            "acq",
        )
    assert raised.value.code == "ACCOUNT_NOT_FOUND"


async def test_get_payments_lists_demo_payments_newest_first(
    billing: Billing, admin: httpx.AsyncClient
) -> None:
    # given
    await freeze(admin, MID_MARCH)
    demo = [
        p
        for p in build(MID_MARCH.date()).payments
        if p.account == "7200000002" and date(2025, 10, 1) <= p.paid_at.date()
    ]

    # when
    payments = await billing.client.get_payments("7200000002", date(2025, 10, 1), date(2026, 3, 15))

    # then
    assert [p.payment_id for p in payments] == [
        p.external_id for p in sorted(demo, key=lambda p: p.paid_at, reverse=True)
    ]
    assert all(p.external_id is None and p.acquirer_ref is None for p in payments)
    assert all(p.paid_at.tzinfo is UTC and p.booked_at > p.paid_at for p in payments)
    assert {p.channel for p in payments} <= {
        "ПАО Сбербанк",
        "Почта России",
        "АО «Тинькофф Банк»",
        "ЛКК",
    }


async def test_get_payments_of_an_unknown_account_is_not_found(billing: Billing) -> None:
    # when / then
    with pytest.raises(NotFound):
        await billing.client.get_payments("7200000099", date(2026, 1, 1), date(2026, 1, 31))


async def test_ping_is_one_get_system_info(billing: Billing, admin: httpx.AsyncClient) -> None:
    # when
    await billing.client.ping()

    # then
    assert await served(admin) == {"total": 1, "operations": {"GetSystemInfo": 1}}


# --- failures --------------------------------------------------------------------------


def _busy_then_healthy_seed() -> int:
    """A seed for billing's fault RNG whose first draw fails a 50 % error rate and whose
    second passes it."""
    for seed in range(1000):
        draws = random.Random(seed)
        if draws.random() < 0.5 <= draws.random():
            return seed
    raise AssertionError("no seed found")


async def test_a_post_that_meets_system_busy_is_retried_and_booked_once(
    billing: Billing, emulators: EmulatorHost, admin: httpx.AsyncClient
) -> None:
    # given billing refuses the first attempt with SYSTEM_BUSY, then recovers
    runtime = emulators.runtimes["billing"]
    runtime.rng.seed(_busy_then_healthy_seed())
    faults(emulators, error_rate=0.5)

    # when
    posted = await pay(billing, paid_at=datetime.now(UTC))

    # then
    assert billing.requests == 2
    assert billing.client.resilience.retries == 1
    assert posted.payment_id == "LK0000000001"
    assert (await served(admin))["operations"] == {"PostPayment": 1}


@pytest.mark.parametrize(
    ("knobs", "expected", "fragment"),
    [
        ({"error_rate": 1}, UpstreamUnavailable, "SYSTEM_BUSY"),
        ({"outage": True}, UpstreamUnavailable, "HTTP 503"),
        ({"malformed": True}, UpstreamMalformed, "not a SOAP answer"),
        ({"latency_ms": 600}, UpstreamTimeout, "no answer in time"),
        ({"slow_body_ms": 5000}, UpstreamTimeout, "no answer in time"),
    ],
    ids=["system-busy", "outage", "malformed", "latency", "slow-body"],
)
async def test_a_read_that_keeps_failing_is_retried_then_mapped(
    emulators: EmulatorHost,
    knobs: dict[str, Any],
    expected: type[Exception],
    fragment: str,
) -> None:
    # given
    faults(emulators, **knobs)

    async with adapter_for(emulators, seconds=SHORT_TIMEOUT) as billing:
        # when / then
        with pytest.raises(expected) as raised:
            await billing.client.get_accounts(["7200000001"])
        assert type(raised.value) is expected
        assert fragment in str(raised.value)
        assert billing.requests == 3


async def test_a_failing_ping_is_not_retried(billing: Billing, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, error_rate=1)

    # when / then
    with pytest.raises(UpstreamUnavailable):
        await billing.client.ping()
    assert billing.requests == 1


async def test_a_refused_connection_is_unavailable() -> None:
    # given a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/billing"
    async with soap_http(url, timeout=TIMEOUT, connect_timeout=TIMEOUT) as http:
        client = BillingClient(http, resilience(), url=url)

        # when / then
        with pytest.raises(UpstreamUnavailable) as raised:
            await client.get_balances(["7200000001"])
    assert "transport failure" in str(raised.value)


async def test_the_breaker_opens_after_repeated_failures(emulators: EmulatorHost) -> None:
    # given
    faults(emulators, outage=True)
    async with adapter_for(emulators, breaker_threshold=2) as billing:
        for _ in range(2):
            with pytest.raises(UpstreamUnavailable):
                await billing.client.ping()

        # when / then
        with pytest.raises(CircuitOpen):
            await billing.client.get_accounts(["7200000001"])
        assert billing.requests == 2


async def test_business_faults_keep_the_breaker_closed(emulators: EmulatorHost) -> None:
    # given
    async with adapter_for(emulators, breaker_threshold=1) as billing:
        with pytest.raises(NotFound):
            await billing.client.get_statements("7200000099", date(2025, 1, 1), date(2025, 2, 1))

        # when
        accounts = await billing.client.get_accounts(["7200000002"])

    # then
    assert accounts["7200000002"].owner_name == "ПЕТРОВ АЛЕКСЕЙ ИВАНОВИЧ"
