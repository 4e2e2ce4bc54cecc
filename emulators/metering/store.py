"""Metering's state: accounts, meters, readings and remembered requests, in its SQLite file.

Seeded from :mod:`emulators.data` (the demo meters 100001–100006 and their monthly
readings) when the file is new, and again on reseed. Values are kept as decimal text,
dates as ISO text; the legacy formats are applied only when answers are rendered.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from emulators import data
from emulators.base import StateDB
from emulators.metering.formats import ACCEPTED, ACTIVE, CLOSED, DISMANTLING

SCHEMA = """
CREATE TABLE IF NOT EXISTS metering_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metering_accounts (
    number TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS metering_meters (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    serial TEXT NOT NULL,
    model TEXT NOT NULL,
    zones TEXT NOT NULL,
    digits INTEGER NOT NULL,
    status TEXT NOT NULL,
    installed TEXT NOT NULL,
    closed TEXT,
    verification_due TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metering_meters_account ON metering_meters (account);
CREATE TABLE IF NOT EXISTS metering_readings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter_id TEXT NOT NULL,
    zone TEXT NOT NULL,
    value TEXT NOT NULL,
    taken_on TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    request_id TEXT,
    registered_at TEXT
);
CREATE INDEX IF NOT EXISTS metering_readings_meter ON metering_readings (meter_id, taken_on);
CREATE TABLE IF NOT EXISTS metering_requests (
    request_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

_TABLES = (
    "metering_meta",
    "metering_accounts",
    "metering_meters",
    "metering_readings",
    "metering_requests",
)


@dataclass(frozen=True)
class MeterRow:
    """One meter as stored (zones are metering's codes ``T1``…``T3``)."""

    id: str
    account: str
    serial: str
    model: str
    zones: tuple[str, ...]
    digits: int
    status: str
    installed: date
    closed: date | None
    verification_due: date

    @property
    def is_closed(self) -> bool:
        """Dismantled: history only, nothing can be submitted (MTR-2)."""
        return self.status == CLOSED

    @property
    def capacity(self) -> Decimal:
        """The first value the meter cannot show (it rolls over to zero there)."""
        return Decimal(10) ** self.digits

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> MeterRow:
        """Read a row of ``metering_meters``."""
        return cls(
            id=row["id"],
            account=row["account"],
            serial=row["serial"],
            model=row["model"],
            zones=tuple(row["zones"].split(",")),
            digits=row["digits"],
            status=row["status"],
            installed=date.fromisoformat(row["installed"]),
            closed=None if row["closed"] is None else date.fromisoformat(row["closed"]),
            verification_due=date.fromisoformat(row["verification_due"]),
        )


@dataclass(frozen=True)
class ReadingRow:
    """One stored reading of one zone."""

    id: int
    meter_id: str
    zone: str
    value: Decimal
    taken_on: date
    source: str
    status: str
    request_id: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ReadingRow:
        """Read a row of ``metering_readings``."""
        return cls(
            id=row["id"],
            meter_id=row["meter_id"],
            zone=row["zone"],
            value=Decimal(row["value"]),
            taken_on=date.fromisoformat(row["taken_on"]),
            source=row["source"],
            status=row["status"],
            request_id=row["request_id"],
        )


@functools.lru_cache(maxsize=2)
def _demo(today: date) -> data.DemoData:
    """The demo data of one day (deterministic, so built once: tests reseed often)."""
    return data.build(today)


def month_start(day: date) -> date:
    """The first day of ``day``'s month: readings belong to the period of their date."""
    return day.replace(day=1)


def insert_reading(
    conn: sqlite3.Connection,
    meter_id: str,
    zone: str,
    value: Decimal,
    taken_on: date,
    source: str,
    *,
    request_id: str | None = None,
    registered_at: datetime | None = None,
) -> None:
    """Store one accepted reading."""
    conn.execute(
        "INSERT INTO metering_readings (meter_id, zone, value, taken_on, source, status,"
        " request_id, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            meter_id,
            zone,
            str(value),
            taken_on.isoformat(),
            source,
            ACCEPTED,
            request_id,
            None if registered_at is None else registered_at.isoformat(),
        ),
    )


def latest_accepted(
    conn: sqlite3.Connection, meter_id: str, zone: str, *, before: date | None = None
) -> ReadingRow | None:
    """The zone's last reading that counts, optionally only among those before ``before``."""
    sql = "SELECT * FROM metering_readings WHERE meter_id = ? AND zone = ? AND status = ?"
    params: list[str] = [meter_id, zone, ACCEPTED]
    if before is not None:
        sql += " AND taken_on < ?"
        params.append(before.isoformat())
    row = conn.execute(sql + " ORDER BY taken_on DESC, id DESC LIMIT 1", params).fetchone()
    return None if row is None else ReadingRow.from_row(row)


class MeteringStore:
    """Reads and seeds metering's tables; writes of readings go through
    :class:`~emulators.metering.submissions.Submissions` in one transaction each."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        db.create(SCHEMA)

    # --- seeding ---------------------------------------------------------------------

    def is_seeded(self) -> bool:
        """Whether the file already holds demo data (kept across restarts)."""
        return bool(self.db.query("SELECT 1 FROM metering_meta WHERE key = 'seeded_on'"))

    def seeded_on(self) -> date:
        """The utility date the demo data was built for."""
        rows = self.db.query("SELECT value FROM metering_meta WHERE key = 'seeded_on'")
        return date.fromisoformat(rows[0]["value"])

    def seed(self, today: date) -> None:
        """Forget everything and load the demo data as of ``today``."""
        demo = _demo(today)
        with self.db.transaction() as conn:
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table}")
            conn.execute(
                "INSERT INTO metering_meta (key, value) VALUES ('seeded_on', ?)",
                (today.isoformat(),),
            )
            conn.executemany(
                "INSERT INTO metering_accounts (number) VALUES (?)",
                [(account.number,) for account in demo.accounts],
            )
            conn.executemany(
                "INSERT INTO metering_meters (id, account, serial, model, zones, digits,"
                " status, installed, closed, verification_due)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        meter.id,
                        meter.account,
                        meter.serial,
                        meter.model,
                        ",".join(meter.zones),
                        meter.digits,
                        meter.status,
                        meter.installed.isoformat(),
                        None if meter.closed is None else meter.closed.isoformat(),
                        meter.verification_due.isoformat(),
                    )
                    for meter in demo.meters
                ],
            )
            for reading in demo.readings:
                insert_reading(
                    conn,
                    reading.meter_id,
                    reading.zone,
                    reading.value,
                    reading.taken_on,
                    reading.source,
                )

    # --- reads -----------------------------------------------------------------------

    def account_exists(self, number: str) -> bool:
        """Whether metering knows the personal account."""
        return bool(self.db.query("SELECT 1 FROM metering_accounts WHERE number = ?", (number,)))

    def meters_of(self, account: str) -> list[MeterRow]:
        """The account's meters, by id."""
        rows = self.db.query(
            "SELECT * FROM metering_meters WHERE account = ? ORDER BY id", (account,)
        )
        return [MeterRow.from_row(row) for row in rows]

    def meter(self, meter_id: str) -> MeterRow | None:
        """One meter, or None."""
        rows = self.db.query("SELECT * FROM metering_meters WHERE id = ?", (meter_id,))
        return MeterRow.from_row(rows[0]) if rows else None

    def last_readings(self, meter: MeterRow) -> list[ReadingRow]:
        """The last reading that counts of each zone (zones without one left out)."""
        with self.db.transaction() as conn:
            found = (latest_accepted(conn, meter.id, zone) for zone in meter.zones)
            return [reading for reading in found if reading is not None]

    def readings_page(
        self,
        meter_id: str,
        *,
        since: date | None,
        until: date | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[ReadingRow]]:
        """The total of readings between the dates (inclusive) and one page of them, newest
        first, zones in order, replaced submissions after the one that replaced them."""
        where = ["meter_id = ?"]
        params: list[str | int] = [meter_id]
        if since is not None:
            where.append("taken_on >= ?")
            params.append(since.isoformat())
        if until is not None:
            where.append("taken_on <= ?")
            params.append(until.isoformat())
        condition = " AND ".join(where)
        total = self.db.query(
            f"SELECT COUNT(*) AS n FROM metering_readings WHERE {condition}",
            params,
        )[0]["n"]
        rows = self.db.query(
            f"SELECT * FROM metering_readings WHERE {condition}"
            " ORDER BY taken_on DESC, zone ASC, id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return total, [ReadingRow.from_row(row) for row in rows]

    # --- admin -----------------------------------------------------------------------

    def record_inspection(self, meter: MeterRow, source: str, on: date) -> None:
        """An inspector's reading of every zone at its current value, on ``on``: a control
        reading (locks the period) or the dismantling (also closes the meter)."""
        if meter.status != ACTIVE:
            raise ValueError("a closed meter cannot be inspected")
        with self.db.transaction() as conn:
            for zone, value in _current_values(conn, meter, meter.zones):
                insert_reading(conn, meter.id, zone, value, on, source)
            if source == DISMANTLING:
                conn.execute(
                    "UPDATE metering_meters SET status = ?, closed = ? WHERE id = ?",
                    (CLOSED, on.isoformat(), meter.id),
                )


def _current_values(
    conn: sqlite3.Connection, meter: MeterRow, zones: Iterable[str]
) -> list[tuple[str, Decimal]]:
    values = []
    for zone in zones:
        last = latest_accepted(conn, meter.id, zone)
        values.append((zone, Decimal("0.0") if last is None else last.value))
    return values
