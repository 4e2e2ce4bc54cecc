"""Clean records of billing: accounts, balances, statements, payments.

Billing speaks SOAP with its own habits: owner names in upper case with Е for Ё, account
statuses in Russian (``Открыт``), supplier groups as numbers 1–4, months as ``YYYY-MM``
strings, local times with a +05:00 offset, and payments it did not receive from us without
an ``ExternalId``. Here they become enums, :class:`~datetime.date` (a period is the first
day of its month), aware UTC :class:`~datetime.datetime` and :class:`~decimal.Decimal`
roubles. Positive balances are debt, negative ones overpayment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum


class SupplierGroup(Enum):
    """Billing's supplier groups 1–4 (PAY-2); a payment goes to exactly one of them."""

    HOUSING = 1
    """ЖКУ with split payment: the retailer and the other resource suppliers."""
    HOUSING_SEPARATE = 2
    """ЖКУ of suppliers that take only a separate payment."""
    SOLID_WASTE = 3
    """The regional solid waste operator (ТКО)."""
    CAPITAL_REPAIR = 4
    """Capital repair fund (капремонт)."""


class AccountStatus(StrEnum):
    """Whether a personal account is in use."""

    OPEN = "open"
    """``Открыт``: billed every month."""
    CLOSED = "closed"
    """``Закрыт``: no new charges; the history stays readable."""


@dataclass(frozen=True)
class BillingAccount:
    """A personal account (ЛС, лицевой счёт) as billing keeps it."""

    number: str
    owner_name: str
    """Full name as billing stores it: upper case, Ё written as Е (``СЕМИНА ОЛЬГА``)."""
    address: str
    status: AccountStatus
    opened_on: date


@dataclass(frozen=True)
class GroupBalance:
    """What an account owes one supplier group now."""

    debt: Decimal
    """Roubles owed (negative: overpaid), penalties not included."""
    penalties: Decimal
    """Penalties (пени) owed on top of the debt."""

    @property
    def total(self) -> Decimal:
        """Debt plus penalties."""
        return self.debt + self.penalties


@dataclass(frozen=True)
class AccountBalance:
    """Debts of one account in every supplier group, as billing computed them."""

    number: str
    as_of: datetime
    """When billing computed them (aware, UTC)."""
    groups: Mapping[SupplierGroup, GroupBalance]
    """One entry for each of the four groups."""

    @property
    def debt(self) -> Decimal:
        """Debt over all groups (penalties not included)."""
        return sum((g.debt for g in self.groups.values()), Decimal("0.00"))

    @property
    def penalties(self) -> Decimal:
        """Penalties over all groups."""
        return sum((g.penalties for g in self.groups.values()), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        """Everything owed: debt plus penalties, over all groups."""
        return self.debt + self.penalties


@dataclass(frozen=True)
class ChargeLine:
    """One service charged in a period."""

    service: str
    """As billing names it, e.g. ``Электроснабжение (день), ПУ № 34012587``."""
    group: SupplierGroup
    supplier: str
    tariff: Decimal | None
    """Roubles per unit, when the service has one."""
    volume: Decimal | None
    """Units consumed or billed (kWh, m³, m², residents…), when known."""
    unit: str | None
    """Billing's unit label (``кВт·ч``, ``м³``, ``чел.``), when known."""
    amount: Decimal


@dataclass(frozen=True)
class GroupTotals:
    """A statement's figures for one supplier group."""

    opening_balance: Decimal
    charged: Decimal
    penalties: Decimal
    paid: Decimal
    closing_balance: Decimal


@dataclass(frozen=True)
class Statement:
    """A closed billing period of an account (CHG-1): published from the 10th of the
    next month."""

    number: str
    """The account."""
    period: date
    """The first day of the month billed."""
    opening_balance: Decimal
    charges: tuple[ChargeLine, ...]
    charged: Decimal
    penalties: Decimal
    paid: Decimal
    closing_balance: Decimal
    """Opening + charged + penalties − paid; positive is debt, negative overpayment."""
    due_date: date | None
    groups: Mapping[SupplierGroup, GroupTotals]


@dataclass(frozen=True)
class BookedPayment:
    """A payment billing has booked against an account."""

    payment_id: str
    """Billing's document number."""
    external_id: str | None
    """Our id for payments the gateway posted; None for those from other channels."""
    group: SupplierGroup
    amount: Decimal
    paid_at: datetime
    """When the customer paid (aware, UTC)."""
    booked_at: datetime
    """When billing booked it (aware, UTC)."""
    channel: str
    """Where the money came from, as billing names it (``ПАО Сбербанк``, ``ЛКК``…)."""
    acquirer_ref: str | None
    """The acquirer's payment id, for payments the gateway posted."""


@dataclass(frozen=True)
class PostedPayment:
    """Billing's receipt of a ``PostPayment``: accepted, booked later."""

    payment_id: str
    """Billing's document number."""
    external_id: str
    accepted_at: datetime
    """When billing accepted it (aware, UTC); booking follows after billing's delay."""
