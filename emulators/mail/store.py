"""The mail sink's state: every letter received over SMTP, parsed, with its raw source, in
the emulator's SQLite file (so the inbox survives restarts)."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from emulators.base import StateDB

SCHEMA = """
CREATE TABLE IF NOT EXISTS mail_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    envelope_from TEXT NOT NULL,
    header_from TEXT NOT NULL,
    header_to TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT,
    html TEXT,
    message_id TEXT,
    date REAL,
    received_at REAL NOT NULL,
    raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS mail_recipients (
    message_seq INTEGER NOT NULL REFERENCES mail_messages (seq) ON DELETE CASCADE,
    address TEXT NOT NULL,
    address_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_recipients_key ON mail_recipients (address_key, message_seq);
"""


def address_key(address: str) -> str:
    """How recipients are matched: case does not matter (as every real mailbox treats it)."""
    return address.strip().casefold()


@dataclass(frozen=True)
class Letter:
    """A letter as the sink keeps it: the envelope, the decoded headers and bodies."""

    id: str
    envelope_from: str
    recipients: tuple[str, ...]
    """The envelope's recipients (``RCPT TO``), in order."""
    header_from: str
    header_to: str
    subject: str
    text: str | None
    """The ``text/plain`` body, decoded."""
    html: str | None
    """The ``text/html`` body, decoded."""
    message_id: str | None
    date: datetime | None
    """The letter's own ``Date:`` header."""
    received_at: datetime
    raw: bytes


@dataclass(frozen=True)
class Parsed:
    """What the sink reads out of a letter's source."""

    header_from: str
    header_to: str
    subject: str
    text: str | None
    html: str | None
    message_id: str | None
    date: datetime | None


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        return _lines(payload.decode("utf-8", "replace")) if isinstance(payload, bytes) else None
    return _lines(content) if isinstance(content, str) else None


def _lines(text: str) -> str:
    """Line ends as ``\n`` (the wire's CRLF is the transport's business)."""
    return text.replace("\r\n", "\n")


def parse(raw: bytes) -> Parsed:
    """Decode a letter (MIME, RFC 2047 headers, any transfer encoding); lenient, as a mail
    server must be: a broken letter is stored with what could be read."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    date: datetime | None = None
    if message["Date"] is not None:
        try:
            date = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            date = None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
    message_id = message["Message-ID"]
    return Parsed(
        header_from=str(message["From"] or ""),
        header_to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        text=_body(message, "plain"),
        html=_body(message, "html"),
        message_id=str(message_id).strip() if message_id is not None else None,
        date=date,
    )


class MailStore:
    """Received letters, newest first."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        db.create(SCHEMA)

    def wipe(self) -> None:
        """Forget every letter."""
        self.db.wipe("mail_recipients", "mail_messages")

    def add(
        self, *, envelope_from: str, recipients: list[str], raw: bytes, now: datetime
    ) -> Letter:
        """Keep one received letter."""
        parsed = parse(raw)
        letter = Letter(
            id=str(uuid.uuid4()),
            envelope_from=envelope_from,
            recipients=tuple(recipients),
            header_from=parsed.header_from,
            header_to=parsed.header_to,
            subject=parsed.subject,
            text=parsed.text,
            html=parsed.html,
            message_id=parsed.message_id,
            date=parsed.date,
            received_at=now,
            raw=raw,
        )
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO mail_messages (id, envelope_from, header_from, header_to, subject,"
                " text, html, message_id, date, received_at, raw)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    letter.id,
                    envelope_from,
                    letter.header_from,
                    letter.header_to,
                    letter.subject,
                    letter.text,
                    letter.html,
                    letter.message_id,
                    None if letter.date is None else letter.date.timestamp(),
                    now.timestamp(),
                    raw,
                ),
            )
            conn.executemany(
                "INSERT INTO mail_recipients (message_seq, address, address_key) VALUES (?, ?, ?)",
                [(cursor.lastrowid, address, address_key(address)) for address in recipients],
            )
        return letter

    def letters(self, to: str | None = None, limit: int = 100) -> list[Letter]:
        """Letters, newest first; only those delivered to ``to`` when given."""
        if to:
            rows = self.db.query(
                "SELECT * FROM mail_messages WHERE seq IN (SELECT message_seq FROM"
                " mail_recipients WHERE address_key = ?) ORDER BY seq DESC LIMIT ?",
                (address_key(to), limit),
            )
        else:
            rows = self.db.query("SELECT * FROM mail_messages ORDER BY seq DESC LIMIT ?", (limit,))
        return self._letters(rows)

    def get(self, letter_id: str) -> Letter | None:
        """One letter, or None."""
        rows = self.db.query("SELECT * FROM mail_messages WHERE id = ?", (letter_id,))
        found = self._letters(rows)
        return found[0] if found else None

    def _letters(self, rows: list[sqlite3.Row]) -> list[Letter]:
        if not rows:
            return []
        seqs = [row["seq"] for row in rows]
        marks = ",".join("?" * len(seqs))
        recipients: dict[int, list[str]] = {seq: [] for seq in seqs}
        for row in self.db.query(
            f"SELECT message_seq, address FROM mail_recipients WHERE message_seq IN ({marks})"
            " ORDER BY rowid",
            seqs,
        ):
            recipients[row["message_seq"]].append(row["address"])
        return [
            Letter(
                id=row["id"],
                envelope_from=row["envelope_from"],
                recipients=tuple(recipients[row["seq"]]),
                header_from=row["header_from"],
                header_to=row["header_to"],
                subject=row["subject"],
                text=row["text"],
                html=row["html"],
                message_id=row["message_id"],
                date=None if row["date"] is None else datetime.fromtimestamp(row["date"], UTC),
                received_at=datetime.fromtimestamp(row["received_at"], UTC),
                raw=bytes(row["raw"]),
            )
            for row in rows
        ]
