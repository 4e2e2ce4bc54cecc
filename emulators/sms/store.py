"""The SMS gateway's state: the customer's balance, the price of a part and every message
sent, in the emulator's SQLite file (so the outbox survives restarts)."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from emulators.base import StateDB

SCHEMA = """
CREATE TABLE IF NOT EXISTS sms_account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    balance TEXT NOT NULL,
    price TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sms_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    parts INTEGER NOT NULL,
    cost TEXT NOT NULL,
    sent_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_messages_phone ON sms_messages (phone, seq);
"""

DEFAULT_BALANCE = Decimal("5000.00")
"""The demo customer's balance after a reseed (2 000 parts at the default price)."""
DEFAULT_PRICE = Decimal("2.50")
"""Roubles per SMS part."""


@dataclass(frozen=True)
class SentSms:
    """One message the gateway accepted."""

    id: str
    phone: str
    sender: str
    text: str
    parts: int
    cost: Decimal
    sent_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SentSms:
        """Read a row of ``sms_messages``."""
        return cls(
            id=row["id"],
            phone=row["phone"],
            sender=row["sender"],
            text=row["text"],
            parts=row["parts"],
            cost=Decimal(row["cost"]),
            sent_at=datetime.fromtimestamp(row["sent_at"], UTC),
        )


@dataclass(frozen=True)
class Account:
    """What the customer of the SMS gateway (us) has to spend."""

    balance: Decimal
    price: Decimal


class InsufficientBalance(Exception):
    """The balance does not cover the message."""


class SmsStore:
    """Balance and messages; a send debits the balance and stores the message atomically."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        db.create(SCHEMA)
        with db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO sms_account (id, balance, price) VALUES (1, ?, ?)",
                (str(DEFAULT_BALANCE), str(DEFAULT_PRICE)),
            )

    def reseed(self) -> None:
        """No messages, the default balance and price."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sms_messages")
        self.reseed_account()

    def reseed_account(self) -> None:
        """The default balance and price (messages stay)."""
        self.set_account(balance=DEFAULT_BALANCE, price=DEFAULT_PRICE)

    def account(self) -> Account:
        """The balance and price now."""
        row = self.db.query("SELECT balance, price FROM sms_account WHERE id = 1")[0]
        return Account(balance=Decimal(row["balance"]), price=Decimal(row["price"]))

    def set_account(self, *, balance: Decimal | None = None, price: Decimal | None = None) -> None:
        """Top up (or drain) the balance, change the price."""
        with self.db.transaction() as conn:
            if balance is not None:
                conn.execute("UPDATE sms_account SET balance = ? WHERE id = 1", (str(balance),))
            if price is not None:
                conn.execute("UPDATE sms_account SET price = ? WHERE id = 1", (str(price),))

    def send(
        self, *, phone: str, sender: str, text: str, parts: int, now: datetime
    ) -> tuple[SentSms, Decimal]:
        """Debit the balance and keep the message; return it and the balance left.

        Raises :class:`InsufficientBalance` (and changes nothing) when the balance is short.
        """
        with self.db.transaction() as conn:
            row = conn.execute("SELECT balance, price FROM sms_account WHERE id = 1").fetchone()
            balance, price = Decimal(row["balance"]), Decimal(row["price"])
            cost = price * parts
            if cost > balance:
                raise InsufficientBalance
            left = balance - cost
            message = SentSms(
                id=str(uuid.uuid4()),
                phone=phone,
                sender=sender,
                text=text,
                parts=parts,
                cost=cost,
                sent_at=now,
            )
            conn.execute("UPDATE sms_account SET balance = ? WHERE id = 1", (str(left),))
            conn.execute(
                "INSERT INTO sms_messages (id, phone, sender, text, parts, cost, sent_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (message.id, phone, sender, text, parts, str(cost), now.timestamp()),
            )
        return message, left

    def messages(self, phone: str | None = None, limit: int = 100) -> list[SentSms]:
        """Messages, newest first; only those to ``phone`` when given."""
        if phone:
            rows = self.db.query(
                "SELECT * FROM sms_messages WHERE phone = ? ORDER BY seq DESC LIMIT ?",
                (phone, limit),
            )
        else:
            rows = self.db.query("SELECT * FROM sms_messages ORDER BY seq DESC LIMIT ?", (limit,))
        return [SentSms.from_row(row) for row in rows]
