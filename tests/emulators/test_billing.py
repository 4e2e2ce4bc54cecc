"""The billing emulator over real sockets: raw SOAP 1.1 envelopes, its WSDL, rules and knobs."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from PIL import Image

from emulators.base import UTILITY_TZ
from emulators.config import EmulatorConfig
from emulators.data import SupplierGroup, build
from emulators.host import EmulatorHost

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "urn:lkk:billing:v1"
XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
NAMESPACES = {"soap": SOAP_ENV, "b": NS, "wsdl": WSDL, "ws": WSDL_SOAP, "xs": XS}
OPERATIONS = {
    "GetAccounts",
    "GetBalances",
    "GetStatements",
    "GetReceipt",
    "GetPayments",
    "PostPayment",
    "GetSystemInfo",
}
MONEY = re.compile(r"^-?\d+\.\d{2}$")
# A moment in the middle of a month, and the edges of the publication of February 2026
MID_MARCH = datetime(2026, 3, 15, 12, 0, tzinfo=UTILITY_TZ)
BEFORE_PUBLICATION = datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTILITY_TZ)
AT_PUBLICATION = datetime(2026, 3, 10, 0, 0, tzinfo=UTILITY_TZ)


# --- helpers shared with tests/adapters/test_billing.py --------------------------------


def envelope(payload: str) -> bytes:
    """A SOAP 1.1 request around ``payload`` (prefix ``b`` is billing's namespace)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:b="{NS}">'
        f"<soap:Body>{payload}</soap:Body></soap:Envelope>"
    ).encode()


@dataclass
class Answer:
    """One SOAP answer: status, content type and the parsed envelope."""

    status: int
    content_type: str
    raw: bytes

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.raw)

    @property
    def payload(self) -> etree._Element:
        body = self.root.find(f"{{{SOAP_ENV}}}Body")
        assert body is not None
        return body[0]

    def all(self, path: str) -> list[str]:
        """Texts at an XPath (prefix ``b:``) under the payload."""
        found = self.payload.xpath(path, namespaces=NAMESPACES)
        assert isinstance(found, list)
        return [str(item.text if isinstance(item, etree._Element) else item) for item in found]

    def one(self, path: str) -> str:
        """The one text at an XPath under the payload."""
        found = self.all(path)
        assert len(found) == 1, (path, found)
        return found[0]

    @property
    def fault(self) -> tuple[str, str, str]:
        """``(faultcode, faultstring, Code)`` of a Fault answer."""
        assert self.payload.tag == f"{{{SOAP_ENV}}}Fault", self.raw
        return (
            self.one("faultcode"),
            self.one("faultstring"),
            self.one("detail/b:BillingFault/b:Code"),
        )


async def soap(client: httpx.AsyncClient, payload: str, action: str | None = None) -> Answer:
    """POST one SOAP request to ``/billing``."""
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action is not None:
        headers["SOAPAction"] = f'"urn:lkk:billing:v1#{action}"'
    response = await client.post("/billing", content=envelope(payload), headers=headers)
    return Answer(response.status_code, response.headers["content-type"], response.content)


def numbers(*values: str) -> str:
    """``<b:AccountNumber>`` elements."""
    return "".join(f"<b:AccountNumber>{v}</b:AccountNumber>" for v in values)


def post_payment_xml(
    external_id: str = "lkk-pay-1",
    account: str = "7200000001",
    group: int = 1,
    amount: str = "1500.00",
    paid_at: str = "2026-03-15T11:58:00+05:00",
    acquirer_ref: str = "acq-2f9c",
) -> str:
    """A ``PostPayment`` payload."""
    return (
        f"<b:PostPayment><b:ExternalId>{external_id}</b:ExternalId>"
        f"<b:AccountNumber>{account}</b:AccountNumber>"
        f"<b:SupplierGroup>{group}</b:SupplierGroup><b:Amount>{amount}</b:Amount>"
        f"<b:PaidAt>{paid_at}</b:PaidAt><b:AcquirerRef>{acquirer_ref}</b:AcquirerRef>"
        "</b:PostPayment>"
    )


async def freeze(client: httpx.AsyncClient, moment: datetime) -> None:
    """Stop billing's clock at ``moment``."""
    answer = await client.put("/_admin/clock", json={"now": moment.isoformat()})
    assert answer.status_code == 200, answer.text


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture
async def billing(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the billing emulator (SOAP endpoint and admin API)."""
    config = emulators.config
    async with httpx.AsyncClient(base_url=config.url(config.billing_port), timeout=5) as client:
        yield client


def calls(emulators: EmulatorHost) -> dict[str, int]:
    """Operations billing served so far."""
    return emulators.runtimes["billing"].calls.snapshot()


# --- the WSDL --------------------------------------------------------------------------


async def test_the_wsdl_is_served_with_the_emulators_own_address(
    billing: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    response = await billing.get("/billing?wsdl")

    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    wsdl = etree.fromstring(response.content)
    assert wsdl.get("targetNamespace") == NS
    address = wsdl.xpath("//wsdl:service/wsdl:port/ws:address/@location", namespaces=NAMESPACES)
    assert address == [emulators.config.billing_url]
    assert calls(emulators) == {"GetWsdl": 1}


async def test_the_wsdl_is_document_literal_with_a_schema_that_compiles(
    billing: httpx.AsyncClient,
) -> None:
    # when
    wsdl = etree.fromstring((await billing.get("/billing?WSDL")).content)

    # then: every operation is bound document/literal and its messages name schema elements
    def names(path: str) -> set[str]:
        found = wsdl.xpath(path, namespaces=NAMESPACES)
        assert isinstance(found, list)
        return {str(item) for item in found}

    assert names("//wsdl:portType/wsdl:operation/@name") == OPERATIONS
    assert names("//wsdl:binding/wsdl:operation/@name") == OPERATIONS
    assert names("//wsdl:binding/ws:binding/@style") == {"document"}
    assert names("//wsdl:binding//ws:body/@use") == {"literal"}
    assert names("//wsdl:binding/ws:binding/@transport") == {"http://schemas.xmlsoap.org/soap/http"}
    schema_node = wsdl.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    assert schema_node is not None
    etree.XMLSchema(etree.ElementTree(schema_node))  # raises if it does not compile
    elements = names("//xs:schema/xs:element/@name")
    for operation in OPERATIONS:
        assert {operation, f"{operation}Response"} <= elements
    assert "BillingFault" in elements


async def test_the_endpoint_without_wsdl_shows_a_russian_page(billing: httpx.AsyncClient) -> None:
    # when
    response = await billing.get("/billing")

    # then
    assert response.status_code == 200
    assert "Сервис биллинга" in response.text
    assert 'href="/billing?wsdl"' in response.text


# --- accounts and balances -------------------------------------------------------------


async def test_get_accounts_answers_the_known_numbers_in_one_call(
    billing: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    answer = await soap(
        billing,
        f"<b:GetAccounts>{numbers('7200000003', '7200000099', '7200000001', '7200000003')}"
        "</b:GetAccounts>",
        action="GetAccounts",
    )

    # then: unknown numbers are left out, duplicates answered once, request order kept
    assert answer.status == 200
    assert answer.content_type == "text/xml; charset=utf-8"
    assert answer.all("b:Account/b:Number") == ["7200000003", "7200000001"]
    assert answer.all("b:Account/b:OwnerName") == ["СЕМИНА ОЛЬГА", "ИВАНОВА МАРИЯ ПЕТРОВНА"]
    assert answer.all("b:Account/b:Status") == ["Открыт", "Открыт"]
    assert answer.all("b:Account/b:OpenedOn") == ["2012-06-01", "2015-03-01"]
    assert answer.one("b:Account[b:Number='7200000001']/b:Address") == (
        "625003, Тюменская обл., г. Тюмень, ул. Республики, д. 14, кв. 27"
    )
    assert calls(emulators) == {"GetAccounts": 1}


async def test_soap_action_is_optional(billing: httpx.AsyncClient) -> None:
    # when
    answer = await soap(billing, f"<b:GetAccounts>{numbers('7200000002')}</b:GetAccounts>")

    # then
    assert answer.all("b:Account/b:OwnerName") == ["ПЕТРОВ АЛЕКСЕЙ ИВАНОВИЧ"]


async def test_get_accounts_with_only_unknown_numbers_is_an_empty_answer(
    billing: httpx.AsyncClient,
) -> None:
    # when
    answer = await soap(billing, f"<b:GetAccounts>{numbers('7299999999')}</b:GetAccounts>")

    # then
    assert answer.status == 200
    assert answer.payload.tag == f"{{{NS}}}GetAccountsResponse"
    assert len(answer.payload) == 0


@pytest.mark.parametrize(
    "payload",
    [
        f"<b:GetAccounts>{numbers('72000001')}</b:GetAccounts>",
        "<b:GetAccounts></b:GetAccounts>",
        f"<b:GetAccounts>{numbers(*(f'72000{i:05d}' for i in range(51)))}</b:GetAccounts>",
        f"<b:GetBalances>{numbers('72000000O1')}</b:GetBalances>",
    ],
    ids=["short-number", "no-number", "51-numbers", "letter-in-number"],
)
async def test_batches_outside_the_contract_are_invalid_requests(
    billing: httpx.AsyncClient, emulators: EmulatorHost, payload: str
) -> None:
    # when
    answer = await soap(billing, payload)

    # then: refused, and still counted as a call of its operation
    assert answer.status == 500
    assert sum(calls(emulators).values()) == 1
    assert "Unknown" not in calls(emulators)
    faultcode, faultstring, code = answer.fault
    assert (faultcode, code) == ("soap:Client", "INVALID_REQUEST")
    assert faultstring.startswith("Некорректный запрос")


async def test_get_balances_gives_debt_and_penalties_of_all_four_groups(
    billing: httpx.AsyncClient,
) -> None:
    # given
    await freeze(billing, MID_MARCH)
    demo = {(b.account, b.group): b for b in build(MID_MARCH.date()).balances}

    # when
    answer = await soap(
        billing,
        f"<b:GetBalances>{numbers('7200000001', '7200000003', '7200000077')}</b:GetBalances>",
    )

    # then
    assert answer.all("b:AccountBalance/b:Number") == ["7200000001", "7200000003"]
    assert answer.all("b:AccountBalance/b:AsOf") == ["2026-03-15T12:00:00+05:00"] * 2
    for number in ("7200000001", "7200000003"):
        base = f"b:AccountBalance[b:Number='{number}']/b:Group"
        assert answer.all(f"{base}/b:SupplierGroup") == ["1", "2", "3", "4"]
        for group in SupplierGroup:
            debt = answer.one(f"{base}[b:SupplierGroup='{group.value}']/b:Debt")
            penalties = answer.one(f"{base}[b:SupplierGroup='{group.value}']/b:Penalties")
            assert MONEY.match(debt)
            assert MONEY.match(penalties)
            assert Decimal(debt) == demo[number, group].debt
            assert Decimal(penalties) == demo[number, group].penalties
    first = [Decimal(d) for d in answer.all("b:AccountBalance[b:Number='7200000001']//b:Debt")]
    third = [Decimal(d) for d in answer.all("b:AccountBalance[b:Number='7200000003']//b:Debt")]
    assert all(debt > 0 for debt in first)
    assert sum(third) < 0


# --- statements and receipts -----------------------------------------------------------


def statements_xml(account: str, first: str, last: str) -> str:
    """A ``GetStatements`` payload."""
    return (
        f"<b:GetStatements><b:AccountNumber>{account}</b:AccountNumber>"
        f"<b:FromPeriod>{first}</b:FromPeriod><b:ToPeriod>{last}</b:ToPeriod></b:GetStatements>"
    )


async def test_a_month_is_published_on_the_10th_of_the_next_month_local_time(
    billing: httpx.AsyncClient,
) -> None:
    # given the last minute of March 9th in Tyumen
    await freeze(billing, BEFORE_PUBLICATION)
    before = await soap(billing, statements_xml("7200000001", "2026-01", "2026-03"))

    # when the 10th begins
    await freeze(billing, AT_PUBLICATION)
    after = await soap(billing, statements_xml("7200000001", "2026-01", "2026-03"))

    # then February appears; March, still open, never does
    assert before.all("b:Statement/b:Period") == ["2026-01"]
    assert after.all("b:Statement/b:Period") == ["2026-01", "2026-02"]


async def test_a_statement_carries_the_demo_figures_and_adds_up(
    billing: httpx.AsyncClient,
) -> None:
    # given
    await freeze(billing, MID_MARCH)
    expected = next(
        s
        for s in build(MID_MARCH.date()).statements
        if s.account == "7200000001" and s.period == date(2026, 2, 1)
    )

    # when
    answer = await soap(billing, statements_xml("7200000001", "2026-02", "2026-02"))

    # then
    s = "b:Statement"
    assert answer.one(f"{s}/b:Period") == "2026-02"
    assert Decimal(answer.one(f"{s}/b:OpeningBalance")) == expected.opening_balance
    assert Decimal(answer.one(f"{s}/b:Penalties")) == expected.penalties
    assert Decimal(answer.one(f"{s}/b:Paid")) == expected.paid
    assert Decimal(answer.one(f"{s}/b:ClosingBalance")) == expected.closing_balance
    assert answer.one(f"{s}/b:DueDate") == "2026-03-25"
    assert answer.all(f"{s}/b:Charges/b:Charge/b:Service") == [c.service for c in expected.charges]
    assert [Decimal(a) for a in answer.all(f"{s}/b:Charges/b:Charge/b:Amount")] == [
        c.amount for c in expected.charges
    ]
    assert answer.all(f"{s}/b:Charges/b:Charge/b:Unit") == [c.unit for c in expected.charges]
    assert "Электроснабжение (день), ПУ № 34012587" in answer.all(f"{s}//b:Service")
    charged = sum((Decimal(a) for a in answer.all(f"{s}/b:Charges/b:Charge/b:Amount")), Decimal(0))
    assert Decimal(answer.one(f"{s}/b:Charged")) == charged
    assert Decimal(answer.one(f"{s}/b:OpeningBalance")) + charged + Decimal(
        answer.one(f"{s}/b:Penalties")
    ) - Decimal(answer.one(f"{s}/b:Paid")) == Decimal(answer.one(f"{s}/b:ClosingBalance"))
    for group in SupplierGroup:
        g = f"{s}/b:Groups/b:Group[b:SupplierGroup='{group.value}']"
        totals = expected.groups[group]
        assert Decimal(answer.one(f"{g}/b:OpeningBalance")) == totals.opening
        assert Decimal(answer.one(f"{g}/b:ClosingBalance")) == totals.closing
    assert all(MONEY.match(v) for v in answer.all(f"{s}//b:Amount"))


async def test_statements_for_an_unknown_account_are_a_fault(billing: httpx.AsyncClient) -> None:
    # when
    answer = await soap(billing, statements_xml("7200000099", "2025-01", "2025-12"))

    # then
    assert answer.status == 500
    assert answer.fault == ("soap:Client", "Лицевой счёт 7200000099 не найден", "ACCOUNT_NOT_FOUND")


async def test_statements_from_after_to_are_an_invalid_request(billing: httpx.AsyncClient) -> None:
    # when
    answer = await soap(billing, statements_xml("7200000001", "2025-06", "2025-01"))

    # then
    assert answer.fault[2] == "INVALID_REQUEST"


def receipt_xml(account: str, period: str) -> str:
    """A ``GetReceipt`` payload."""
    return (
        f"<b:GetReceipt><b:AccountNumber>{account}</b:AccountNumber>"
        f"<b:Period>{period}</b:Period></b:GetReceipt>"
    )


async def test_a_receipt_is_an_a4_png_at_300_dpi_rendered_once(
    billing: httpx.AsyncClient,
) -> None:
    # given
    await freeze(billing, MID_MARCH)

    # when
    first = await soap(billing, receipt_xml("7200000001", "2026-02"))
    again = await soap(billing, receipt_xml("7200000001", "2026-02"))

    # then
    assert first.one("b:Receipt/b:Period") == "2026-02"
    assert first.one("b:Receipt/b:ContentType") == "image/png"
    assert first.one("b:Receipt/b:FileName") == "receipt_7200000001_202602.png"
    png = base64.b64decode(first.one("b:Receipt/b:Content"))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (2480, 3508)
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert 50_000 < len(png) < 2_000_000
    assert again.one("b:Receipt/b:Content") == first.one("b:Receipt/b:Content")
    stats = (await billing.get("/_admin/receipts")).json()
    assert stats == {"renders": 1, "cached": 1}


async def test_a_receipt_of_an_open_month_is_period_not_closed(
    billing: httpx.AsyncClient,
) -> None:
    # given
    await freeze(billing, BEFORE_PUBLICATION)

    # when
    answer = await soap(billing, receipt_xml("7200000001", "2026-02"))

    # then
    faultcode, faultstring, code = answer.fault
    assert (answer.status, faultcode, code) == (500, "soap:Client", "PERIOD_NOT_CLOSED")
    assert faultstring == "Период 2026-02 не закрыт: квитанция будет сформирована 10.03.2026"


@pytest.mark.parametrize(
    ("account", "period", "code"),
    [
        ("7200000099", "2025-06", "ACCOUNT_NOT_FOUND"),
        ("7200000001", "2019-01", "STATEMENT_NOT_FOUND"),
    ],
)
async def test_a_receipt_that_does_not_exist_is_a_fault(
    billing: httpx.AsyncClient, account: str, period: str, code: str
) -> None:
    # when
    answer = await soap(billing, receipt_xml(account, period))

    # then
    assert answer.fault[2] == code


# --- payments --------------------------------------------------------------------------


def payments_xml(account: str, start: str, end: str) -> str:
    """A ``GetPayments`` payload."""
    return (
        f"<b:GetPayments><b:AccountNumber>{account}</b:AccountNumber>"
        f"<b:From>{start}</b:From><b:To>{end}</b:To></b:GetPayments>"
    )


async def test_get_payments_lists_the_demo_payments_of_the_dates_oldest_first(
    billing: httpx.AsyncClient,
) -> None:
    # given
    await freeze(billing, MID_MARCH)
    expected = sorted(
        (
            p
            for p in build(MID_MARCH.date()).payments
            if p.account == "7200000001"
            and date(2026, 1, 1) <= p.paid_at.date() <= date(2026, 2, 28)
        ),
        key=lambda p: p.paid_at,
    )

    # when
    answer = await soap(billing, payments_xml("7200000001", "2026-01-01", "2026-02-28"))

    # then
    assert expected
    assert answer.all("b:Payment/b:PaymentId") == [p.external_id for p in expected]
    assert [Decimal(a) for a in answer.all("b:Payment/b:Amount")] == [p.amount for p in expected]
    assert answer.all("b:Payment/b:PaidAt") == [p.paid_at.isoformat() for p in expected]
    assert answer.all("b:Payment/b:Channel") == [p.channel for p in expected]
    assert answer.all("b:Payment/b:ExternalId") == []


async def test_post_payment_is_idempotent_by_external_id(
    billing: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await freeze(billing, MID_MARCH)
    first = await soap(billing, post_payment_xml())

    # when
    await freeze(billing, MID_MARCH + timedelta(minutes=3))
    again = await soap(billing, post_payment_xml())

    # then
    assert first.status == again.status == 200
    assert again.raw == first.raw
    assert first.one("b:PaymentId") == "LK0000000001"
    assert first.one("b:ExternalId") == "lkk-pay-1"
    assert first.one("b:AcceptedAt") == "2026-03-15T12:00:00+05:00"
    assert calls(emulators) == {"PostPayment": 2}


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "1500.01"},
        {"group": 2},
        {"account": "7200000002"},
        {"paid_at": "2026-03-15T11:59:00+05:00"},
        {"acquirer_ref": "acq-other"},
    ],
)
async def test_the_same_external_id_with_other_details_is_a_duplicate(
    billing: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    # given
    await freeze(billing, MID_MARCH)
    await soap(billing, post_payment_xml())

    # when
    answer = await soap(billing, post_payment_xml(**change))

    # then
    faultcode, faultstring, code = answer.fault
    assert (faultcode, code) == ("soap:Client", "DUPLICATE_EXTERNAL_ID")
    assert "lkk-pay-1" in faultstring


async def test_the_same_payment_written_differently_is_the_same_payment(
    billing: httpx.AsyncClient,
) -> None:
    # given
    await freeze(billing, MID_MARCH)
    first = await soap(billing, post_payment_xml(amount="1500.00"))

    # when: the same amount and moment, spelled another way
    again = await soap(billing, post_payment_xml(amount="1500", paid_at="2026-03-15T06:58:00Z"))

    # then
    assert again.raw == first.raw


async def test_a_posted_payment_is_booked_after_the_delay(
    billing: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    delay = emulators.config.booking_delay_seconds
    await freeze(billing, MID_MARCH)
    await soap(billing, post_payment_xml(amount="1000.00", group=4))
    listing = payments_xml("7200000001", "2026-03-01", "2026-03-31")
    debts = f"<b:GetBalances>{numbers('7200000001')}</b:GetBalances>"
    group_4 = "b:AccountBalance/b:Group[b:SupplierGroup='4']/b:Debt"
    debt_before = Decimal((await soap(billing, debts)).one(group_4))

    # when just before the delay ends
    await freeze(billing, MID_MARCH + timedelta(seconds=delay * 0.9))
    pending = await soap(billing, payments_xml("7200000001", "2026-03-01", "2026-03-31"))
    pending_debt = Decimal((await soap(billing, debts)).one(group_4))
    # and when it has ended
    await freeze(billing, MID_MARCH + timedelta(seconds=delay))
    booked = await soap(billing, listing)
    booked_debt = Decimal((await soap(billing, debts)).one(group_4))

    # then
    assert pending.all("b:Payment[b:ExternalId]") == []
    assert pending_debt == debt_before
    assert booked.all("b:Payment/b:ExternalId") == ["lkk-pay-1"]
    mine = "b:Payment[b:ExternalId='lkk-pay-1']"
    assert booked.one(f"{mine}/b:PaymentId") == "LK0000000001"
    assert booked.one(f"{mine}/b:SupplierGroup") == "4"
    assert booked.one(f"{mine}/b:Amount") == "1000.00"
    assert booked.one(f"{mine}/b:PaidAt") == "2026-03-15T11:58:00+05:00"
    assert booked.one(f"{mine}/b:Channel") == "ЛКК"
    assert booked.one(f"{mine}/b:AcquirerRef") == "acq-2f9c"
    assert booked_debt == debt_before - Decimal("1000.00")


async def test_a_booked_payment_counts_in_the_statement_of_its_month(
    billing: httpx.AsyncClient,
) -> None:
    # given a payment booked in March
    await freeze(billing, MID_MARCH)
    await soap(billing, post_payment_xml(amount="250.00", group=3))
    plain = build(date(2026, 4, 10))
    march = next(
        s for s in plain.statements if s.account == "7200000001" and s.period == date(2026, 3, 1)
    )

    # when March is published
    await freeze(billing, datetime(2026, 4, 10, 9, 0, tzinfo=UTILITY_TZ))
    answer = await soap(billing, statements_xml("7200000001", "2026-03", "2026-03"))

    # then
    group = "b:Statement/b:Groups/b:Group[b:SupplierGroup='3']"
    assert Decimal(answer.one(f"{group}/b:Paid")) == march.groups[
        SupplierGroup.SOLID_WASTE
    ].paid + Decimal("250")
    assert Decimal(answer.one("b:Statement/b:Paid")) == march.paid + Decimal("250")
    assert Decimal(answer.one("b:Statement/b:ClosingBalance")) == (
        march.closing_balance - Decimal("250")
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "0.00"}, "INVALID_REQUEST"),
        ({"amount": "-5.00"}, "INVALID_REQUEST"),
        ({"amount": "10.005"}, "INVALID_REQUEST"),
        ({"amount": "10,50"}, "INVALID_REQUEST"),
        ({"group": 5}, "INVALID_REQUEST"),
        ({"paid_at": "2026-03-16T12:00:00+05:00"}, "INVALID_REQUEST"),
        ({"paid_at": "15.03.2026 11:58"}, "INVALID_REQUEST"),
        ({"external_id": "x" * 65}, "INVALID_REQUEST"),
        ({"account": "7200000099"}, "ACCOUNT_NOT_FOUND"),
    ],
    ids=[
        "zero",
        "negative",
        "three-decimals",
        "comma",
        "group-5",
        "future",
        "russian-date",
        "long-id",
        "unknown-account",
    ],
)
async def test_post_payment_refuses_what_billing_cannot_book(
    billing: httpx.AsyncClient, change: dict[str, Any], code: str
) -> None:
    # given
    await freeze(billing, MID_MARCH)

    # when
    answer = await soap(billing, post_payment_xml(**change))

    # then
    assert answer.status == 500
    assert answer.fault[0] == "soap:Client"
    assert answer.fault[2] == code


async def test_get_payments_from_after_to_is_an_invalid_request(
    billing: httpx.AsyncClient,
) -> None:
    # when
    answer = await soap(billing, payments_xml("7200000001", "2026-02-01", "2026-01-01"))

    # then
    assert answer.fault[2] == "INVALID_REQUEST"


async def test_reset_forgets_posted_payments(billing: httpx.AsyncClient) -> None:
    # given
    await soap(billing, post_payment_xml(paid_at=datetime.now(UTILITY_TZ).isoformat()))

    # when
    await billing.post("/_admin/reset")
    again = await soap(billing, post_payment_xml(amount="1.00"))

    # then: the id is free again
    assert again.status == 200
    assert again.one("b:PaymentId") == "LK0000000001"


async def test_posted_payments_survive_a_restart(tmp_path: Path) -> None:
    # given billing with a state file, and a payment posted to it
    config = EmulatorConfig(billing_port=0, data_dir=tmp_path, booking_delay_seconds=0)
    payload = post_payment_xml(paid_at=datetime.now(UTILITY_TZ).isoformat(timespec="seconds"))
    first = EmulatorHost(config, systems=("billing",))
    first.start_in_thread()
    try:
        async with httpx.AsyncClient(base_url=first.config.url(first.config.billing_port)) as c:
            accepted = await soap(c, payload)
    finally:
        first.stop_thread()

    # when it starts again
    second = EmulatorHost(config, systems=("billing",))
    second.start_in_thread()
    try:
        async with httpx.AsyncClient(base_url=second.config.url(second.config.billing_port)) as c:
            today = datetime.now(UTILITY_TZ).date()
            listed = await soap(c, payments_xml("7200000001", str(today), str(today)))
            replayed = await soap(c, payload)
    finally:
        second.stop_thread()

    # then
    assert accepted.status == 200
    assert listed.all("b:Payment/b:ExternalId") == ["lkk-pay-1"]
    assert replayed.raw == accepted.raw


# --- system info, malformed requests, faults -------------------------------------------


async def test_get_system_info_reports_version_and_local_time(billing: httpx.AsyncClient) -> None:
    # given
    await freeze(billing, MID_MARCH)

    # when
    answer = await soap(billing, "<b:GetSystemInfo/>")

    # then
    assert answer.one("b:Version").startswith("4.2.17")
    assert answer.one("b:SystemTime") == "2026-03-15T12:00:00+05:00"


@pytest.mark.parametrize(
    ("body", "faultcode"),
    [
        (b"not xml at all", "soap:Client"),
        (b"<Envelope/>", "soap:Client"),
        (envelope("<b:Unknown/>"), "soap:Client"),
        (envelope('<x:GetSystemInfo xmlns:x="urn:other"/>'), "soap:Client"),
        (envelope("<b:GetSystemInfo/><b:GetSystemInfo/>"), "soap:Client"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + envelope("<b:GetSystemInfo/>").split(b"?>", 1)[1],
            "soap:Client",
        ),
        (
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            "soap:VersionMismatch",
        ),
    ],
    ids=[
        "not-xml",
        "not-soap",
        "unknown-operation",
        "foreign-namespace",
        "two-payloads",
        "dtd",
        "soap12",
    ],
)
async def test_requests_outside_soap_1_1_are_invalid(
    billing: httpx.AsyncClient, emulators: EmulatorHost, body: bytes, faultcode: str
) -> None:
    # when
    response = await billing.post("/billing", content=body, headers={"Content-Type": "text/xml"})

    # then
    answer = Answer(response.status_code, response.headers["content-type"], response.content)
    assert answer.status == 500
    assert answer.fault[0] == faultcode
    assert answer.fault[2] == "INVALID_REQUEST"
    assert calls(emulators) == {"Unknown": 1}


async def test_the_error_fault_is_a_retryable_system_busy(
    billing: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await billing.put("/_admin/faults", json={"error_rate": 1})

    # when
    answer = await soap(billing, "<b:GetSystemInfo/>")

    # then
    assert answer.status == 500
    assert answer.content_type == "text/xml; charset=utf-8"
    faultcode, faultstring, code = answer.fault
    assert (faultcode, code) == ("soap:Server", "SYSTEM_BUSY")
    assert "Повторите" in faultstring
    assert calls(emulators) == {}


async def test_an_outage_is_the_front_proxys_503_page(billing: httpx.AsyncClient) -> None:
    # given
    await billing.put("/_admin/faults", json={"outage": True})

    # when
    response = await billing.post("/billing", content=envelope("<b:GetSystemInfo/>"))

    # then
    assert response.status_code == 503
    assert response.headers["content-type"] == "text/html"
    assert "nginx" in response.text


async def test_a_malformed_answer_is_not_xml(billing: httpx.AsyncClient) -> None:
    # given
    await billing.put("/_admin/faults", json={"malformed": True})

    # when
    response = await billing.post("/billing", content=envelope("<b:GetSystemInfo/>"))

    # then
    assert response.status_code == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(response.content)
