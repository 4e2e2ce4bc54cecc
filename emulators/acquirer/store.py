"""The acquirer's state: payments and idempotence keys, in the emulator's SQLite file.

Also renders a payment as the acquirer's API shows it, the one JSON shape served by
``GET /v3/payments/{id}``, by ``POST /v3/payments`` and inside webhook notifications.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from emulators.base import StateDB

SCHEMA = """
CREATE TABLE IF NOT EXISTS acquirer_payments (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    description TEXT,
    metadata TEXT NOT NULL,
    return_url TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    stage TEXT NOT NULL,
    captured_at REAL,
    card_first6 TEXT,
    card_last4 TEXT,
    card_type TEXT,
    three_ds_applied INTEGER NOT NULL DEFAULT 0,
    cancel_party TEXT,
    cancel_reason TEXT,
    rrn TEXT,
    auth_code TEXT
);
CREATE INDEX IF NOT EXISTS acquirer_payments_due
    ON acquirer_payments (status, expires_at);
CREATE TABLE IF NOT EXISTS acquirer_idempotence (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

FEE_RATE = Decimal("0.035")
"""The acquirer's commission, kept out of ``income_amount``."""

CENT = Decimal("0.01")


class Stage:
    """Where a pending payment is in the customer's journey (not shown in the API)."""

    CARD = "card"
    """Waiting for the card form."""
    THREE_DS = "3ds"
    """Waiting for the 3-D Secure code at the issuer's page."""
    PROCESSING = "processing"
    """Sent to the processor, which never answers (the time-out card)."""
    DONE = "done"
    """Succeeded or canceled."""


@dataclass(frozen=True)
class PaymentRow:
    """One payment as stored."""

    id: str
    status: str
    amount: Decimal
    currency: str
    description: str | None
    metadata: dict[str, str]
    return_url: str
    created_at: datetime
    expires_at: datetime
    stage: str
    captured_at: datetime | None
    card_first6: str | None
    card_last4: str | None
    card_type: str | None
    three_ds_applied: bool
    cancel_party: str | None
    cancel_reason: str | None
    rrn: str | None
    auth_code: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> PaymentRow:
        """Read a row of ``acquirer_payments``."""
        return cls(
            id=row["id"],
            status=row["status"],
            amount=Decimal(row["amount"]),
            currency=row["currency"],
            description=row["description"],
            metadata=json.loads(row["metadata"]),
            return_url=row["return_url"],
            created_at=_moment(row["created_at"]),
            expires_at=_moment(row["expires_at"]),
            stage=row["stage"],
            captured_at=None if row["captured_at"] is None else _moment(row["captured_at"]),
            card_first6=row["card_first6"],
            card_last4=row["card_last4"],
            card_type=row["card_type"],
            three_ds_applied=bool(row["three_ds_applied"]),
            cancel_party=row["cancel_party"],
            cancel_reason=row["cancel_reason"],
            rrn=row["rrn"],
            auth_code=row["auth_code"],
        )


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def api_time(moment: datetime) -> str:
    """The acquirer's time format: UTC, milliseconds, ``Z`` (``2025-03-01T09:15:02.113Z``)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def money_text(value: Decimal) -> str:
    """An amount as the API writes it: a string with two decimals."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def render_payment(payment: PaymentRow, *, base_url: str, shop_id: str) -> dict[str, Any]:
    """The payment object of the acquirer's API, as of now."""
    body: dict[str, Any] = {
        "id": payment.id,
        "status": payment.status,
        "paid": payment.status == "succeeded",
        "amount": {"value": money_text(payment.amount), "currency": payment.currency},
    }
    if payment.status == "succeeded":
        fee = (payment.amount * FEE_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
        body["income_amount"] = {
            "value": money_text(payment.amount - fee),
            "currency": payment.currency,
        }
    if payment.description is not None:
        body["description"] = payment.description
    body["recipient"] = {"account_id": shop_id, "gateway_id": f"{shop_id}01"}
    if payment.card_last4 is not None:
        body["payment_method"] = {
            "type": "bank_card",
            "id": payment.id,
            "saved": False,
            "title": f"Bank card *{payment.card_last4}",
            "card": {
                "first6": payment.card_first6,
                "last4": payment.card_last4,
                "card_type": payment.card_type,
            },
        }
    if payment.captured_at is not None:
        body["captured_at"] = api_time(payment.captured_at)
    body["created_at"] = api_time(payment.created_at)
    if payment.status == "pending":
        body["confirmation"] = {
            "type": "redirect",
            "confirmation_url": f"{base_url}/checkout/{payment.id}",
        }
    body["test"] = True
    body["refundable"] = payment.status == "succeeded"
    body["metadata"] = dict(payment.metadata)
    if payment.status == "canceled":
        body["cancellation_details"] = {
            "party": payment.cancel_party,
            "reason": payment.cancel_reason,
        }
    if payment.status == "succeeded":
        body["authorization_details"] = {
            "rrn": payment.rrn,
            "auth_code": payment.auth_code,
            "three_d_secure": {"applied": payment.three_ds_applied},
        }
    return body


@dataclass(frozen=True)
class NewPayment:
    """A validated ``POST /v3/payments`` request."""

    amount: Decimal
    currency: str
    description: str | None
    metadata: dict[str, str]
    return_url: str


@dataclass(frozen=True)
class Remembered:
    """The first answer given to an idempotence key."""

    fingerprint: str
    response: dict[str, Any]


class PaymentStore:
    """Payments and idempotence keys; every state change is one guarded UPDATE, so two
    racing transitions of one payment cannot both win."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        db.create(SCHEMA)

    def wipe(self) -> None:
        """Forget every payment and key."""
        self.db.wipe("acquirer_payments", "acquirer_idempotence")

    def get(self, payment_id: str) -> PaymentRow | None:
        """One payment, or None."""
        rows = self.db.query("SELECT * FROM acquirer_payments WHERE id = ?", (payment_id,))
        return PaymentRow.from_row(rows[0]) if rows else None

    def all(self) -> list[PaymentRow]:
        """Every payment, newest first (admin listing)."""
        rows = self.db.query("SELECT * FROM acquirer_payments ORDER BY created_at DESC")
        return [PaymentRow.from_row(row) for row in rows]

    def due(self, now: datetime) -> list[str]:
        """Pending payments whose time to be confirmed is over."""
        rows = self.db.query(
            "SELECT id FROM acquirer_payments WHERE status = 'pending' AND expires_at <= ?",
            (now.timestamp(),),
        )
        return [row["id"] for row in rows]

    def create(
        self,
        request: NewPayment,
        *,
        key: str,
        fingerprint: str,
        now: datetime,
        expires_at: datetime,
        key_ttl_seconds: float,
        render: Callable[[PaymentRow], dict[str, Any]],
    ) -> tuple[Remembered, bool]:
        """Create a payment under an idempotence key, or return what the key already got.

        Returns the remembered answer and whether it was created now. ``render`` turns the
        new row into the API answer that the key remembers.
        """
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT fingerprint, response, created_at FROM acquirer_idempotence WHERE key = ?",
                (key,),
            ).fetchone()
            if row is not None and row["created_at"] > now.timestamp() - key_ttl_seconds:
                return Remembered(row["fingerprint"], json.loads(row["response"])), False
            payment_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO acquirer_payments (id, status, amount, currency, description,"
                " metadata, return_url, created_at, expires_at, stage)"
                " VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    payment_id,
                    money_text(request.amount),
                    request.currency,
                    request.description,
                    json.dumps(request.metadata, ensure_ascii=False),
                    request.return_url,
                    now.timestamp(),
                    expires_at.timestamp(),
                    Stage.CARD,
                ),
            )
            created = conn.execute(
                "SELECT * FROM acquirer_payments WHERE id = ?", (payment_id,)
            ).fetchone()
            response = render(PaymentRow.from_row(created))
            conn.execute(
                "INSERT OR REPLACE INTO acquirer_idempotence (key, fingerprint, response,"
                " created_at) VALUES (?, ?, ?, ?)",
                (key, fingerprint, json.dumps(response, ensure_ascii=False), now.timestamp()),
            )
            return Remembered(fingerprint, response), True

    def attach_card(
        self,
        payment_id: str,
        *,
        first6: str,
        last4: str,
        card_type: str,
        stage: str,
        expires_at: datetime | None = None,
    ) -> bool:
        """Keep the card's safe parts on a payment waiting for its card; move it on."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE acquirer_payments SET card_first6 = ?, card_last4 = ?, card_type = ?,"
                " stage = ?, expires_at = COALESCE(?, expires_at)"
                " WHERE id = ? AND status = 'pending' AND stage = ?",
                (
                    first6,
                    last4,
                    card_type,
                    stage,
                    None if expires_at is None else expires_at.timestamp(),
                    payment_id,
                    Stage.CARD,
                ),
            )
            return cursor.rowcount == 1

    def succeed(
        self, payment_id: str, *, now: datetime, rrn: str, auth_code: str, three_ds: bool
    ) -> bool:
        """Pending → succeeded (paid and captured at once: one-stage payments)."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE acquirer_payments SET status = 'succeeded', stage = ?, captured_at = ?,"
                " rrn = ?, auth_code = ?, three_ds_applied = ?"
                " WHERE id = ? AND status = 'pending'",
                (Stage.DONE, now.timestamp(), rrn, auth_code, int(three_ds), payment_id),
            )
            return cursor.rowcount == 1

    def cancel(self, payment_id: str, *, party: str, reason: str) -> bool:
        """Pending → canceled, with who canceled it and why."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE acquirer_payments SET status = 'canceled', stage = ?,"
                " cancel_party = ?, cancel_reason = ? WHERE id = ? AND status = 'pending'",
                (Stage.DONE, party, reason, payment_id),
            )
            return cursor.rowcount == 1
