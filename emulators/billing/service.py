"""Billing's operations: a request payload in, a response payload (or a Fault) out.

Each operation reads its (schema-validated) request element, asks the ledger, and writes
the answer the way the old system does: owner names upper case with Е for Ё, Russian
account statuses, local times with the +05:00 offset, money with a dot and two decimals.
Batch operations silently leave out numbers billing does not know.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

from lxml import etree

from emulators.base import CallLog, Clock
from emulators.billing.ledger import Ledger, ListedPayment, NewPayment
from emulators.billing.receipts import ReceiptCache
from emulators.billing.soap import (
    NS,
    BillingFault,
    date_value,
    datetime_value,
    element,
    invalid,
    leaf,
    money_text,
    period_text,
    period_value,
    q,
    text,
    texts,
    time_text,
    validate,
)
from emulators.data import Account, Statement, SupplierGroup, publication_time

VERSION = "4.2.17 (сборка 2019-08-14)"
"""What ``GetSystemInfo`` reports."""
PAID_AT_TOLERANCE = timedelta(minutes=5)
"""How far in the future (clock skew) a ``PaidAt`` may lie."""

Handler = Callable[[etree._Element], Awaitable[etree._Element]]


def not_found(number: str) -> BillingFault:
    """``ACCOUNT_NOT_FOUND`` for ``number``."""
    return BillingFault("ACCOUNT_NOT_FOUND", f"Лицевой счёт {number} не найден")


def owner_name(account: Account) -> str:
    """The owner's name as billing writes it: upper case, Ё as Е."""
    return account.owner_name.upper().replace("Ё", "Е")


class BillingService:
    """The SOAP operations over one :class:`Ledger`."""

    def __init__(self, ledger: Ledger, receipts: ReceiptCache, calls: CallLog) -> None:
        self.ledger = ledger
        self.receipts = receipts
        self.calls = calls
        self.operations: dict[str, Handler] = {
            "GetAccounts": self.get_accounts,
            "GetBalances": self.get_balances,
            "GetStatements": self.get_statements,
            "GetReceipt": self.get_receipt,
            "GetPayments": self.get_payments,
            "PostPayment": self.post_payment,
            "GetSystemInfo": self.get_system_info,
        }

    @property
    def clock(self) -> Clock:
        """The emulator's clock."""
        return self.ledger.clock

    async def handle(self, request: etree._Element) -> etree._Element:
        """Run the operation ``request`` names; count it in the call log (requests for
        no known operation as ``Unknown``), valid or not."""
        name = etree.QName(request)
        handler = self.operations.get(name.localname) if name.namespace == NS else None
        self.calls.record(name.localname if handler is not None else "Unknown")
        if handler is None:
            raise invalid(f"неизвестная операция {name.text}")
        validate(request)
        return await handler(request)

    def _account(self, number: str) -> Account:
        account = self.ledger.account(number)
        if account is None:
            raise not_found(number)
        return account

    # --- operations --------------------------------------------------------------------

    async def get_accounts(self, request: etree._Element) -> etree._Element:
        """``GetAccounts``: the known accounts among the numbers, in request order."""
        answer = element("GetAccountsResponse")
        for number in dict.fromkeys(texts(request, "AccountNumber")):
            account = self.ledger.account(number)
            if account is None:
                continue
            node = etree.SubElement(answer, q("Account"))
            leaf(node, "Number", account.number)
            leaf(node, "OwnerName", owner_name(account))
            leaf(node, "Address", account.address)
            leaf(node, "Status", account.status)
            leaf(node, "OpenedOn", account.opened.isoformat())
        return answer

    async def get_balances(self, request: etree._Element) -> etree._Element:
        """``GetBalances``: debt and penalties per supplier group now."""
        answer = element("GetBalancesResponse")
        as_of = time_text(self.clock.now())
        for number in dict.fromkeys(texts(request, "AccountNumber")):
            if self.ledger.account(number) is None:
                continue
            balances = self.ledger.balances(number)
            node = etree.SubElement(answer, q("AccountBalance"))
            leaf(node, "Number", number)
            leaf(node, "AsOf", as_of)
            for group in SupplierGroup:
                balance = balances[group]
                group_node = etree.SubElement(node, q("Group"))
                leaf(group_node, "SupplierGroup", str(group.value))
                leaf(group_node, "Debt", money_text(balance.debt))
                leaf(group_node, "Penalties", money_text(balance.penalties))
        return answer

    async def get_statements(self, request: etree._Element) -> etree._Element:
        """``GetStatements``: published statements between two periods, oldest first."""
        number = text(request, "AccountNumber")
        first = period_value(text(request, "FromPeriod"))
        last = period_value(text(request, "ToPeriod"))
        if first > last:
            raise invalid("FromPeriod позже ToPeriod")
        self._account(number)
        answer = element("GetStatementsResponse")
        for statement in self.ledger.statements(number):
            if first <= statement.period <= last:
                answer.append(_statement(statement))
        return answer

    async def get_receipt(self, request: etree._Element) -> etree._Element:
        """``GetReceipt``: the printed receipt of a published period, base64 PNG."""
        number = text(request, "AccountNumber")
        period = period_value(text(request, "Period"))
        account = self._account(number)
        if publication_time(period) > self.clock.now():
            raise BillingFault(
                "PERIOD_NOT_CLOSED",
                f"Период {period_text(period)} не закрыт: квитанция будет сформирована "
                f"{publication_time(period):%d.%m.%Y}",
            )
        statement = next((s for s in self.ledger.statements(number) if s.period == period), None)
        if statement is None:
            raise BillingFault(
                "STATEMENT_NOT_FOUND",
                f"Нет начислений по лицевому счёту {number} за {period_text(period)}",
            )
        png = await self.receipts.get(account, statement)
        receipt = element("Receipt")
        leaf(receipt, "Period", period_text(period))
        leaf(receipt, "FileName", f"receipt_{number}_{period:%Y%m}.png")
        leaf(receipt, "ContentType", "image/png")
        leaf(receipt, "Content", base64.b64encode(png).decode())
        return element("GetReceiptResponse", receipt)

    async def get_payments(self, request: etree._Element) -> etree._Element:
        """``GetPayments``: booked payments paid between two dates, oldest first."""
        number = text(request, "AccountNumber")
        start = date_value(text(request, "From"))
        end = date_value(text(request, "To"))
        if start > end:
            raise invalid("From позже To")
        self._account(number)
        answer = element("GetPaymentsResponse")
        for booked in self.ledger.payments(number, start, end):
            answer.append(_payment(booked))
        return answer

    async def post_payment(self, request: etree._Element) -> etree._Element:
        """``PostPayment``: accept a payment, idempotent by ``ExternalId``."""
        amount = Decimal(text(request, "Amount"))
        if amount <= 0:
            raise invalid("сумма платежа должна быть больше нуля")
        paid_at = datetime_value(text(request, "PaidAt"))
        if paid_at > self.clock.now() + PAID_AT_TOLERANCE:
            raise invalid("дата платежа в будущем")
        payment = NewPayment(
            external_id=text(request, "ExternalId"),
            account=text(request, "AccountNumber"),
            group=SupplierGroup(int(text(request, "SupplierGroup"))),
            amount=amount,
            paid_at=paid_at,
            acquirer_ref=text(request, "AcquirerRef"),
        )
        self._account(payment.account)
        posted = self.ledger.post(payment)
        if posted.fingerprint != payment.fingerprint():
            raise BillingFault(
                "DUPLICATE_EXTERNAL_ID",
                f"Платёж с ExternalId {payment.external_id} уже принят с другими реквизитами",
            )
        answer = element("PostPaymentResponse")
        leaf(answer, "PaymentId", posted.payment_id)
        leaf(answer, "ExternalId", posted.external_id)
        leaf(answer, "AcceptedAt", time_text(posted.accepted_at))
        return answer

    async def get_system_info(self, request: etree._Element) -> etree._Element:
        """``GetSystemInfo``: version and the system's time (used as a ping)."""
        answer = element("GetSystemInfoResponse")
        leaf(answer, "Version", VERSION)
        leaf(answer, "SystemTime", time_text(self.clock.now()))
        return answer


def _statement(statement: Statement) -> etree._Element:
    node = element("Statement")
    leaf(node, "Period", period_text(statement.period))
    leaf(node, "OpeningBalance", money_text(statement.opening_balance))
    charges = etree.SubElement(node, q("Charges"))
    for charge in statement.charges:
        line = etree.SubElement(charges, q("Charge"))
        leaf(line, "Service", charge.service)
        leaf(line, "SupplierGroup", str(charge.group.value))
        leaf(line, "Supplier", charge.supplier)
        if charge.tariff is not None:
            leaf(line, "Tariff", f"{charge.tariff:f}")
        if charge.volume is not None:
            leaf(line, "Volume", f"{charge.volume:f}")
        if charge.unit is not None:
            leaf(line, "Unit", charge.unit)
        leaf(line, "Amount", money_text(charge.amount))
    charged = sum((g.charged for g in statement.groups.values()), Decimal("0"))
    leaf(node, "Charged", money_text(charged))
    leaf(node, "Penalties", money_text(statement.penalties))
    leaf(node, "Paid", money_text(statement.paid))
    leaf(node, "ClosingBalance", money_text(statement.closing_balance))
    leaf(node, "DueDate", statement.due_date.isoformat())
    groups = etree.SubElement(node, q("Groups"))
    for group in SupplierGroup:
        totals = statement.groups[group]
        group_node = etree.SubElement(groups, q("Group"))
        leaf(group_node, "SupplierGroup", str(group.value))
        leaf(group_node, "OpeningBalance", money_text(totals.opening))
        leaf(group_node, "Charged", money_text(totals.charged))
        leaf(group_node, "Penalties", money_text(totals.penalties))
        leaf(group_node, "Paid", money_text(totals.paid))
        leaf(group_node, "ClosingBalance", money_text(totals.closing))
    return node


def _payment(booked: ListedPayment) -> etree._Element:
    payment = booked.payment
    node = element("Payment")
    leaf(node, "PaymentId", booked.payment_id)
    if booked.external_id is not None:
        leaf(node, "ExternalId", booked.external_id)
    leaf(node, "SupplierGroup", str(payment.group.value))
    leaf(node, "Amount", money_text(payment.amount))
    leaf(node, "PaidAt", time_text(payment.paid_at))
    leaf(node, "BookedAt", time_text(payment.booked_at))
    leaf(node, "Channel", payment.channel)
    if booked.external_id is not None:
        leaf(node, "AcquirerRef", payment.acquirer_ref)
    return node
