"""Statements, receipts and payments in the schema (CHG-1, CHG-2, PAY-1, PAY-4).

``BillingAccountFields`` adds ``statements``, ``statement``, ``nextStatementDate`` and
``payments`` to ``Account``. Money is ``Decimal`` with two places end to end (billing's
``xs:decimal`` → :class:`~decimal.Decimal` → the ``Decimal`` scalar, a string in JSON);
balances are signed: positive is debt, negative overpayment. ``Payment``, ``SupplierGroup``
and ``PaymentStatus`` are shared with the payments domain (``startPayment``,
``paymentUpdated``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import strawberry

from adapters import billing
from adapters.cache import Cached
from adapters.errors import UpstreamUnavailable
from gateway.billing import history
from gateway.billing.history import HistoryPayment, PaymentsPage
from gateway.billing.statements import StatementsPage
from schema.billing.cursors import (
    decode_payment_cursor,
    decode_period_cursor,
    encode_payment_cursor,
    encode_period_cursor,
    page_size,
)
from schema.connections import Connection, Edge, PageInfo
from schema.context import Info
from schema.errors import UpstreamUnavailableError
from schema.scalars import AccountNumber, Period

CENT = Decimal("0.01")
STATEMENTS_PAGE = 12
"""Statements per page unless ``first`` says otherwise: a year."""
PAYMENTS_PAGE = 20
"""Payments per page unless ``first`` says otherwise."""

SupplierGroup = strawberry.enum(
    billing.SupplierGroup,
    name="SupplierGroup",
    description="Who a payment goes to (PAY-2): HOUSING — ЖКУ with split payment (the "
    "retailer and the other resource suppliers); HOUSING_SEPARATE — ЖКУ of suppliers that "
    "take only a separate payment; SOLID_WASTE — the regional solid waste operator (ТКО); "
    "CAPITAL_REPAIR — capital repair funds or own capital repair accounts (капремонт).",
)
PaymentStatus = strawberry.enum(
    history.PaymentStatus,
    name="PaymentStatus",
    description="Where a payment stands: PENDING — started, the card payment is not "
    "confirmed yet; SUCCEEDED — paid, billing has not booked it yet; BOOKED — billing booked "
    "it (it counts in the debts); CANCELED — abandoned before the money was taken; FAILED — "
    "declined, or booking failed for good.",
)


def money(value: Decimal) -> Decimal:
    """Roubles with kopecks, as the API always shows money."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@strawberry.type(description="One service charged in a period (CHG-1).")
class ChargeLine:
    service: str = strawberry.field(
        description="The service as billing names it, e.g. «Электроснабжение (день), ПУ № …»."
    )
    group: SupplierGroup = strawberry.field(  # type: ignore[valid-type]
        description="The supplier group it is paid to."
    )
    supplier: str = strawberry.field(description="The supplier of the service.")
    tariff: Decimal | None = strawberry.field(
        description="Roubles per unit, as precise as billing keeps it; null where the "
        "service has no tariff."
    )
    volume: Decimal | None = strawberry.field(
        description="Units billed (kWh, m³, m², residents…); null where billing has none."
    )
    unit: str | None = strawberry.field(
        description="The unit of volume as billing writes it (кВт·ч, м³, чел.)."
    )
    amount: Decimal = strawberry.field(description="Roubles charged.")

    @classmethod
    def of(cls, line: billing.ChargeLine) -> ChargeLine:
        """Map billing's charge line."""
        return cls(
            service=line.service,
            group=line.group,
            supplier=line.supplier,
            tariff=line.tariff,
            volume=line.volume,
            unit=line.unit,
            amount=money(line.amount),
        )


@strawberry.type(description="A statement's figures for one supplier group.")
class StatementGroup:
    group: SupplierGroup = strawberry.field(  # type: ignore[valid-type]
        description="The supplier group."
    )
    opening_balance: Decimal = strawberry.field(
        description="Balance at the start of the period: positive debt, negative overpayment."
    )
    charged: Decimal = strawberry.field(description="Charges of the period.")
    penalties: Decimal = strawberry.field(description="Penalties (пени) of the period.")
    paid: Decimal = strawberry.field(description="Payments received in the period.")
    closing_balance: Decimal = strawberry.field(
        description="Balance at the end: opening + charged + penalties − paid."
    )


@strawberry.type(
    description="A closed billing period of an account (CHG-1), shown from the 10th of the "
    "following month (CHG-2). closingBalance = openingBalance + charged + penalties − paid."
)
class Statement:
    period: Period = strawberry.field(description="The month billed.")
    opening_balance: Decimal = strawberry.field(
        description="Balance at the start of the period: positive debt, negative overpayment."
    )
    charges: list[ChargeLine] = strawberry.field(description="Charges per service.")
    charged: Decimal = strawberry.field(description="Sum of the charges.")
    penalties: Decimal = strawberry.field(description="Penalties (пени) of the period.")
    paid: Decimal = strawberry.field(description="Payments received in the period.")
    closing_balance: Decimal = strawberry.field(
        description="Balance at the end of the period: positive debt, negative overpayment."
    )
    due_date: date | None = strawberry.field(description="Pay by this date.")
    groups: list[StatementGroup] = strawberry.field(
        description="The same figures per supplier group."
    )
    as_of: datetime = strawberry.field(description="When billing gave this statement.")
    stale: bool = strawberry.field(
        description="True when billing is unavailable and this is the last known copy."
    )
    account_number: strawberry.Private[str]

    @strawberry.field(
        description="A link to the receipt (платёжный документ) as a PNG, A4 at 300 dpi: "
        "signed for the signed-in customer and valid for about an hour (query again for a "
        "fresh one). Null without a customer session."
    )
    def receipt_url(self, info: Info) -> str | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        receipts = info.context.services.billing.receipts
        return receipts.url_for(viewer.user_id, self.account_number, self.period)

    @classmethod
    def of(cls, loaded: Cached[billing.Statement]) -> Statement:
        """Map billing's statement."""
        record = loaded.value
        return cls(
            period=Period(record.period),
            opening_balance=money(record.opening_balance),
            charges=[ChargeLine.of(line) for line in record.charges],
            charged=money(record.charged),
            penalties=money(record.penalties),
            paid=money(record.paid),
            closing_balance=money(record.closing_balance),
            due_date=record.due_date,
            groups=[
                StatementGroup(
                    group=group,
                    opening_balance=money(totals.opening_balance),
                    charged=money(totals.charged),
                    penalties=money(totals.penalties),
                    paid=money(totals.paid),
                    closing_balance=money(totals.closing_balance),
                )
                for group, totals in sorted(record.groups.items(), key=lambda g: g[0].value)
            ],
            as_of=loaded.as_of,
            stale=loaded.stale,
            account_number=record.number,
        )


@strawberry.type(
    name="StatementConnection",
    description="A page of an account's statements, newest period first. A cursor stands "
    "for a period, so pages stay put when a new month is published.",
)
class StatementConnection:
    edges: list[Edge[Statement]] = strawberry.field(description="The statements of the page.")
    page_info: PageInfo = strawberry.field(description="Where the page is in the history.")

    @classmethod
    def of(cls, page: StatementsPage) -> StatementConnection:
        """Map a page of the domain's statements."""
        edges = [
            Edge(cursor=encode_period_cursor(loaded.value.period), node=Statement.of(loaded))
            for loaded in page.statements
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type(description="A payment to one supplier group (PAY-1, PAY-4).")
class Payment:
    id: strawberry.ID = strawberry.field(
        description="The gateway's id of a payment made here; billing's document number "
        "for payments from other channels."
    )
    group: SupplierGroup = strawberry.field(  # type: ignore[valid-type]
        description="The supplier group it is paid to."
    )
    amount: Decimal = strawberry.field(description="Roubles paid.")
    status: PaymentStatus = strawberry.field(  # type: ignore[valid-type]
        description="Where it stands; PENDING (or SUCCEEDED) until billing books it."
    )
    created_at: datetime = strawberry.field(
        description="When it was paid (or started, while billing has not booked it)."
    )
    booked_at: datetime | None = strawberry.field(
        default=None, description="When billing booked it; null until then."
    )
    channel: str | None = strawberry.field(
        default=None,
        description="Where the money came from as billing names it (a bank, the post, "
        "«ЛКК»); null until booked.",
    )
    failure_reason: str | None = strawberry.field(
        default=None,
        description="Why a CANCELED or FAILED payment did not go through, in Russian "
        "(the bank's refusal, an expired card page…); null otherwise.",
    )

    @classmethod
    def of(cls, payment: HistoryPayment) -> Payment:
        """Map a payment of the history."""
        return cls(
            id=strawberry.ID(payment.id),
            group=payment.group,
            amount=money(payment.amount),
            status=payment.status,
            created_at=payment.created_at,
            booked_at=payment.booked_at,
            channel=payment.channel,
            failure_reason=payment.failure_reason,
        )


@strawberry.type(
    name="PaymentConnection",
    description="A page of an account's payments, newest first: what billing has booked "
    "and, marked PENDING, what was paid here and is not booked yet (each payment once).",
)
class PaymentConnection(Connection[Payment]):
    complete: bool = strawberry.field(
        description="False when billing is unavailable and nothing is cached: only the "
        "payments made here and not booked yet are listed."
    )
    stale: bool = strawberry.field(
        description="True when billing is unavailable and its part is the last known one."
    )
    as_of: datetime | None = strawberry.field(
        description="When billing's part was read; null when it is missing."
    )

    @classmethod
    def of_page(cls, page: PaymentsPage) -> PaymentConnection:
        """Map a page of the domain's payment history."""
        edges = [
            Edge(cursor=encode_payment_cursor(p.position), node=Payment.of(p))
            for p in page.payments
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=len(page.history.payments),
            complete=page.history.complete,
            stale=page.history.stale,
            as_of=page.history.as_of,
        )


@strawberry.type(description="The billing fields of an account (mixed into Account).")
class BillingAccountFields:
    number: strawberry.Private[AccountNumber]

    @strawberry.field(
        description="The account's statements, newest period first (CHG-1); only published "
        "periods (CHG-2). Null when billing is unavailable and the page was never cached."
    )
    async def statements(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> StatementConnection | None:
        limit = page_size(first, STATEMENTS_PAGE)
        before = None if after is None else decode_period_cursor(after)
        loader = info.context.loaders.billing.statement_by_period
        try:
            page = await info.context.services.billing.statements.page(
                self.number, before, limit, loader.load_many
            )
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailableError("billing") from exc
        return StatementConnection.of(page)

    @strawberry.field(
        description="The statement of one period; null before it is published (see "
        "nextStatementDate) or when billing has none for it."
    )
    async def statement(self, info: Info, period: Period) -> Statement | None:
        loader = info.context.loaders.billing.statement_by_period
        try:
            loaded = await info.context.services.billing.statements.statement(
                self.number, period, loader.load_many
            )
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailableError("billing") from exc
        return Statement.of(loaded) if loaded is not None else None

    @strawberry.field(
        description="The day (utility time) the next month's statement and receipt appear: "
        "the 10th of the month after the one billed (CHG-2)."
    )
    def next_statement_date(self, info: Info) -> date:
        return info.context.services.billing.statements.next_publication()

    @strawberry.field(
        description="Payment history, newest first (PAY-1): billing's booked payments and "
        "the payments made here that billing has not booked yet (PAY-4)."
    )
    async def payments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> PaymentConnection:
        limit = page_size(first, PAYMENTS_PAGE)
        position = None if after is None else decode_payment_cursor(after)
        found = await info.context.loaders.billing.payments_by_account.load(self.number)
        return PaymentConnection.of_page(found.page(position, limit))
