"""Billing's books: the demo data as of the emulator's today, plus the payments posted to it.

The demo data (:mod:`emulators.data`) is derived from the utility's local date by the
emulator clock, so shifting or freezing the clock moves the whole history with it, and a
statement of month M is shown from the 10th of M+1 (CHG-2). Payments posted through
``PostPayment`` live in the emulator's SQLite file, survive restarts, and are *booked*
``booking_delay`` after billing accepted them: from then on they show in ``GetPayments``,
lower the group's debt and count in the statement of the month they were booked in.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from emulators.base import UTILITY_TZ, Clock, StateDB
from emulators.data import (
    Account,
    Balance,
    DemoData,
    GroupTotals,
    Payment,
    Statement,
    SupplierGroup,
    add_months,
    build,
    money,
    publication_time,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS billing_payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    supplier_group INTEGER NOT NULL,
    amount TEXT NOT NULL,
    paid_at REAL NOT NULL,
    acquirer_ref TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    booked_at REAL NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS billing_payments_account ON billing_payments (account, booked_at);
"""

CHANNEL = "ЛКК"
"""The channel billing names for payments posted by the gateway."""


@lru_cache(maxsize=4)
def demo_data(today: date) -> DemoData:
    """The demo data as of ``today`` (built once per day; never mutated)."""
    return build(today)


@dataclass(frozen=True)
class NewPayment:
    """A ``PostPayment`` request."""

    external_id: str
    account: str
    group: SupplierGroup
    amount: Decimal
    paid_at: datetime
    """Aware; billing keeps it to the second."""
    acquirer_ref: str

    def fingerprint(self) -> str:
        """What makes two requests with the same ``ExternalId`` "the same"."""
        canonical = "|".join(
            (
                self.account,
                str(self.group.value),
                str(money(self.amount)),
                str(int(self.paid_at.timestamp())),
                self.acquirer_ref,
            )
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PostedPayment:
    """A payment accepted through ``PostPayment``."""

    payment_id: str
    external_id: str
    account: str
    group: SupplierGroup
    amount: Decimal
    paid_at: datetime
    acquirer_ref: str
    accepted_at: datetime
    booked_at: datetime
    fingerprint: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> PostedPayment:
        """Read a row of ``billing_payments``."""
        return cls(
            payment_id=f"LK{row['id']:010d}",
            external_id=row["external_id"],
            account=row["account"],
            group=SupplierGroup(row["supplier_group"]),
            amount=Decimal(row["amount"]),
            paid_at=datetime.fromtimestamp(row["paid_at"], UTC),
            acquirer_ref=row["acquirer_ref"],
            accepted_at=datetime.fromtimestamp(row["accepted_at"], UTC),
            booked_at=datetime.fromtimestamp(row["booked_at"], UTC),
            fingerprint=row["fingerprint"],
        )

    def as_booked(self) -> Payment:
        """As a booked payment of the books."""
        return Payment(
            external_id=self.external_id,
            account=self.account,
            group=self.group,
            amount=self.amount,
            paid_at=self.paid_at,
            booked_at=self.booked_at,
            acquirer_ref=self.acquirer_ref,
            channel=CHANNEL,
        )


@dataclass(frozen=True)
class ListedPayment:
    """A payment as ``GetPayments`` lists it: billing's document number, and the
    gateway's ``ExternalId`` for payments it posted."""

    payment_id: str
    external_id: str | None
    payment: Payment


class Ledger:
    """The accounts, statements, balances and payments billing serves, as of its clock."""

    def __init__(self, db: StateDB, clock: Clock, *, booking_delay: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.booking_delay = booking_delay
        db.create(SCHEMA)

    def wipe(self) -> None:
        """Forget every posted payment (back to the demo data alone)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM billing_payments")
            conn.execute("DELETE FROM sqlite_sequence WHERE name = 'billing_payments'")

    # --- the demo data -----------------------------------------------------------------

    def data(self) -> DemoData:
        """The demo data as of the emulator's local today."""
        return demo_data(self.clock.today())

    def account(self, number: str) -> Account | None:
        """An account by number, or None."""
        return next((a for a in self.data().accounts if a.number == number), None)

    # --- posted payments ---------------------------------------------------------------

    def post(self, payment: NewPayment) -> PostedPayment:
        """Accept a payment, or return the one accepted earlier under its ``ExternalId``
        (the caller compares fingerprints to tell a repeat from a conflicting reuse)."""
        now = self.clock.now()
        paid_at = payment.paid_at.astimezone(UTC).replace(microsecond=0)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM billing_payments WHERE external_id = ?", (payment.external_id,)
            ).fetchone()
            if row is not None:
                return PostedPayment.from_row(row)
            cursor = conn.execute(
                "INSERT INTO billing_payments (external_id, account, supplier_group, amount,"
                " paid_at, acquirer_ref, accepted_at, booked_at, fingerprint)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    payment.external_id,
                    payment.account,
                    payment.group.value,
                    str(money(payment.amount)),
                    paid_at.timestamp(),
                    payment.acquirer_ref,
                    now.timestamp(),
                    (now + self.booking_delay).timestamp(),
                    payment.fingerprint(),
                ),
            )
            row = conn.execute(
                "SELECT * FROM billing_payments WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
        return PostedPayment.from_row(row)

    def posted(self, account: str, *, booked_by: datetime | None = None) -> list[PostedPayment]:
        """Payments posted for ``account``; only those booked by ``booked_by`` if given."""
        rows = self.db.query(
            "SELECT * FROM billing_payments WHERE account = ? ORDER BY id", (account,)
        )
        payments = [PostedPayment.from_row(row) for row in rows]
        if booked_by is None:
            return payments
        return [p for p in payments if p.booked_at <= booked_by]

    # --- the views billing serves ------------------------------------------------------

    def balances(self, account: str) -> dict[SupplierGroup, Balance]:
        """Debt and penalties per group now: the demo balance less booked posted
        payments (a payment lowers the debt; penalties stay until the next period)."""
        now = self.clock.now()
        current = {b.group: b for b in self.data().balances if b.account == account}
        for payment in self.posted(account, booked_by=now):
            held = current[payment.group]
            current[payment.group] = replace(held, debt=held.debt - payment.amount)
        return current

    def statements(self, account: str) -> list[Statement]:
        """The published statements of ``account``, oldest first, with booked posted
        payments counted in the month (local time) they were booked in."""
        now = self.clock.now()
        own = [
            s
            for s in self.data().statements
            if s.account == account and publication_time(s.period) <= now
        ]
        booked = self.posted(account, booked_by=now)
        if not booked:
            return own
        return [_with_payments(statement, booked) for statement in own]

    def payments(self, account: str, start: date, end: date) -> list[ListedPayment]:
        """Booked payments of ``account`` paid between ``start`` and ``end`` (local dates,
        inclusive), oldest first."""
        now = self.clock.now()
        found = [
            ListedPayment(payment_id=p.external_id, external_id=None, payment=p)
            for p in self.data().payments
            if p.account == account and p.booked_at <= now
        ]
        found.extend(
            ListedPayment(payment_id=p.payment_id, external_id=p.external_id, payment=p.as_booked())
            for p in self.posted(account, booked_by=now)
        )
        chosen = [b for b in found if start <= _local_date(b.payment.paid_at) <= end]
        return sorted(chosen, key=lambda b: (b.payment.paid_at, b.payment_id))


def _local_date(moment: datetime) -> date:
    return moment.astimezone(UTILITY_TZ).date()


def _with_payments(statement: Statement, booked: list[PostedPayment]) -> Statement:
    start = statement.period
    end = add_months(start, 1)
    groups: dict[SupplierGroup, GroupTotals] = {}
    for group, totals in statement.groups.items():
        before = sum(
            (p.amount for p in booked if p.group == group and _local_date(p.booked_at) < start),
            money(0),
        )
        within = sum(
            (
                p.amount
                for p in booked
                if p.group == group and start <= _local_date(p.booked_at) < end
            ),
            money(0),
        )
        groups[group] = GroupTotals(
            opening=totals.opening - before,
            charged=totals.charged,
            penalties=totals.penalties,
            paid=totals.paid + within,
        )
    return replace(statement, groups=groups)
