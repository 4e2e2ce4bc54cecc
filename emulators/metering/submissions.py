"""Submitting readings: metering's rules, its idempotence by ``request_id``, replacement.

A submission carries one value per zone of the meter and an optional date (today, local
time, when absent). It belongs to the period (month) of its date. In one transaction:

1. a ``request_id`` seen before returns the first answer (status and body) when the
   request is the same, and ``422 REQUEST_ID_REUSED`` when it is not;
2. the rules are checked in this order (the first failure answers): meter known (404),
   meter not closed, date well-formed and not in the future, period not locked by a
   control reading or dismantling (409), period not older than the last accepted
   reading's, exactly the meter's zones, each value well-formed, within the digit
   capacity and not below the previous period's reading (a roll-over past the capacity
   is accepted when it implies less than a tenth of the capacity);
3. an accepted submission replaces the customer's earlier readings of the same period
   (they stay in the history as ``Заменено``), MTR-4.

Every answer given to a well-formed request, refusals included, is remembered under its
``request_id``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from emulators.base import Clock
from emulators.metering.formats import (
    ACCEPTED,
    CONTROL,
    CUSTOMER,
    LOCKING_SOURCES,
    REPLACED,
    parse_date,
    parse_value,
    render_date,
    render_period,
    render_time,
    render_value,
)
from emulators.metering.store import (
    MeteringStore,
    MeterRow,
    ReadingRow,
    insert_reading,
    latest_accepted,
    month_start,
)

MAX_REQUEST_ID = 64


@dataclass(frozen=True)
class Answer:
    """A whole API answer: HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


class Refusal(Exception):
    """A request metering refuses, with its status, code and Russian message."""

    def __init__(self, status: int, code: str, message: str, **details: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def answer(self) -> Answer:
        """The error answer in metering's one error shape."""
        return Answer(self.status, error_body(self.code, self.message, **self.details))


def error_body(code: str, message: str, **details: str | None) -> dict[str, Any]:
    """``{"result": "error", "code": ..., "message": ..., <details>}``."""
    return {"result": "error", "code": code, "message": message, **details}


def fingerprint(meter_id: str, body: dict[str, Any]) -> str:
    """What makes two submissions "the same" for a ``request_id``: meter and canonical body."""
    canonical = json.dumps(
        {"meter": meter_id, "body": body},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Submission:
    """A well-formed ``POST /meters/{id}/readings`` body (not yet checked against state)."""

    request_id: str
    values: dict[str, Any]
    date: Any
    """As sent: checked against the rules later, so that a bad date is a remembered 422."""
    raw: dict[str, Any]
    """The whole body, for the fingerprint."""


def parse_submission(body: Any) -> Submission:
    """The request's shape, or a 400 :class:`Refusal` (such requests are not remembered)."""
    if not isinstance(body, dict):
        raise Refusal(400, "INVALID_REQUEST", "Тело запроса должно быть объектом JSON")
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not 0 < len(request_id.strip()) <= MAX_REQUEST_ID:
        raise Refusal(
            400,
            "INVALID_REQUEST",
            f"Не указан request_id (строка до {MAX_REQUEST_ID} символов)",
        )
    values = body.get("values")
    if not isinstance(values, dict) or not values:
        raise Refusal(
            400,
            "INVALID_REQUEST",
            'Не указаны показания: values — объект вида {"T1": "12345,6"}',
        )
    return Submission(request_id=request_id, values=values, date=body.get("date"), raw=body)


class Submissions:
    """Takes submissions against the store, by the rules in this module's docstring."""

    def __init__(self, store: MeteringStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def submit(self, meter_id: str, body: Any) -> Answer:
        """Check, store and answer one submission (idempotent by ``request_id``)."""
        try:
            submission = parse_submission(body)
        except Refusal as refusal:
            return refusal.answer()
        request_print = fingerprint(meter_id, submission.raw)
        with self.store.db.transaction() as conn:
            row = conn.execute(
                "SELECT fingerprint, status_code, response FROM metering_requests"
                " WHERE request_id = ?",
                (submission.request_id,),
            ).fetchone()
            if row is not None:
                if row["fingerprint"] != request_print:
                    return Refusal(
                        422,
                        "REQUEST_ID_REUSED",
                        f"request_id «{submission.request_id}» уже использован для другого запроса",
                    ).answer()
                return Answer(row["status_code"], json.loads(row["response"]))
            try:
                answer = self._accept(conn, meter_id, submission)
            except Refusal as refusal:
                answer = refusal.answer()
            conn.execute(
                "INSERT INTO metering_requests (request_id, fingerprint, status_code,"
                " response, created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    submission.request_id,
                    request_print,
                    answer.status,
                    json.dumps(answer.body, ensure_ascii=False),
                    self.clock.now().isoformat(),
                ),
            )
            return answer

    def _accept(self, conn: sqlite3.Connection, meter_id: str, submission: Submission) -> Answer:
        row = conn.execute("SELECT * FROM metering_meters WHERE id = ?", (meter_id,)).fetchone()
        if row is None:
            raise Refusal(404, "METER_NOT_FOUND", f"Прибор учёта {meter_id} не найден")
        meter = MeterRow.from_row(row)
        if meter.is_closed:
            closed = "" if meter.closed is None else f" {render_date(meter.closed)}"
            raise Refusal(
                422,
                "METER_CLOSED",
                f"Прибор учёта № {meter.serial} закрыт{closed}: показания не принимаются",
            )
        today = self.clock.today()
        taken_on = self._date(submission.date, today)
        period = month_start(taken_on)
        _check_not_locked(conn, meter, period)
        _check_period_open(conn, meter, period)
        values = _values(meter, submission.values)
        readings: list[dict[str, str | None]] = []
        for zone, value in values.items():
            previous = latest_accepted(conn, meter.id, zone, before=period)
            used = _consumption(meter, zone, value, previous)
            readings.append(
                {
                    "zone": zone,
                    "value": render_value(value),
                    "previous": None if previous is None else render_value(previous.value),
                    "previous_date": None if previous is None else render_date(previous.taken_on),
                    "consumption": None if used is None else render_value(used),
                }
            )
        replaced = conn.execute(
            "UPDATE metering_readings SET status = ? WHERE meter_id = ? AND status = ?"
            " AND source = ? AND taken_on >= ? AND taken_on < ?",
            (
                REPLACED,
                meter.id,
                ACCEPTED,
                CUSTOMER,
                period.isoformat(),
                _next_month(period).isoformat(),
            ),
        ).rowcount
        now = self.clock.now()
        for zone, value in values.items():
            insert_reading(
                conn,
                meter.id,
                zone,
                value,
                taken_on,
                CUSTOMER,
                request_id=submission.request_id,
                registered_at=now,
            )
        return Answer(
            201,
            {
                "result": "ok",
                "request_id": submission.request_id,
                "meter_id": int(meter.id),
                "date": render_date(taken_on),
                "period": render_period(taken_on),
                "status": ACCEPTED,
                "replaced": replaced > 0,
                "registered_at": render_time(now),
                "readings": readings,
            },
        )

    @staticmethod
    def _date(raw: Any, today: date) -> date:
        if raw is None:
            return today
        try:
            if not isinstance(raw, str):
                raise TypeError("date must be a string")
            taken_on = parse_date(raw)
        except (TypeError, ValueError) as exc:
            raise Refusal(
                422, "INVALID_DATE", "Неверная дата показаний: укажите ДД.ММ.ГГГГ"
            ) from exc
        if taken_on > today:
            raise Refusal(
                422,
                "DATE_IN_FUTURE",
                f"Дата показаний {render_date(taken_on)} ещё не наступила",
            )
        return taken_on


def _next_month(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def _check_not_locked(conn: sqlite3.Connection, meter: MeterRow, period: date) -> None:
    """409 when an inspector's reading closed the period for the customer (MTR-4)."""
    row = conn.execute(
        "SELECT * FROM metering_readings WHERE meter_id = ? AND status = ?"
        " AND source IN (?, ?) AND taken_on >= ? AND taken_on < ?"
        " ORDER BY taken_on DESC LIMIT 1",
        (
            meter.id,
            ACCEPTED,
            *LOCKING_SOURCES,
            period.isoformat(),
            _next_month(period).isoformat(),
        ),
    ).fetchone()
    if row is None:
        return
    lock = ReadingRow.from_row(row)
    what = (
        "выполнено контрольное снятие показаний"
        if lock.source == CONTROL
        else "выполнен демонтаж прибора учёта"
    )
    raise Refusal(
        409,
        "PERIOD_LOCKED",
        f"Показания за {render_period(period)} не принимаются: {render_date(lock.taken_on)} {what}",
        period=render_period(period),
        locked_by=lock.source,
        locked_on=render_date(lock.taken_on),
    )


def _check_period_open(conn: sqlite3.Connection, meter: MeterRow, period: date) -> None:
    """Only the period of the last accepted reading, or a later one, can be submitted."""
    row = conn.execute(
        "SELECT MAX(taken_on) AS last FROM metering_readings WHERE meter_id = ? AND status = ?",
        (meter.id, ACCEPTED),
    ).fetchone()
    if row["last"] is None:
        return
    last = month_start(date.fromisoformat(row["last"]))
    if period < last:
        raise Refusal(
            422,
            "PERIOD_CLOSED",
            f"Показания за {render_period(period)} не принимаются: последние показания "
            f"приняты за {render_period(last)}",
            period=render_period(period),
        )


def _values(meter: MeterRow, raw: dict[str, Any]) -> dict[str, Decimal]:
    """The submitted values in zone order, each well-formed and within the capacity."""
    if set(raw) != set(meter.zones):
        zones = ", ".join(meter.zones)
        raise Refusal(
            422,
            "WRONG_ZONES",
            f"Прибор учёта № {meter.serial} учитывает зоны {zones}: передайте показания "
            "по каждой из них",
        )
    values: dict[str, Decimal] = {}
    for zone in meter.zones:
        text = raw[zone]
        try:
            if not isinstance(text, str):
                raise TypeError("value must be a string")
            value = parse_value(text)
        except (TypeError, ValueError) as exc:
            raise Refusal(
                422,
                "INVALID_VALUE",
                f"Неверный формат показания по зоне {zone}: «{text}». Пример: 12345,6",
                zone=zone,
            ) from exc
        if value >= meter.capacity:
            raise Refusal(
                422,
                "VALUE_OVER_CAPACITY",
                f"Показание по зоне {zone} больше разрядности счётчика "
                f"({meter.digits} знаков до запятой)",
                zone=zone,
            )
        values[zone] = value
    return values


def _consumption(
    meter: MeterRow, zone: str, value: Decimal, previous: ReadingRow | None
) -> Decimal | None:
    """kWh since the previous period's reading; refuses a value below it unless the meter
    plausibly rolled over past its capacity (less than a tenth of it used)."""
    if previous is None:
        return None
    used = value - previous.value
    if used >= 0:
        return used
    rolled = used + meter.capacity
    if rolled < meter.capacity / 10:
        return rolled
    raise Refusal(
        422,
        "VALUE_BELOW_PREVIOUS",
        f"Показание по зоне {zone} ({render_value(value)}) меньше предыдущего "
        f"({render_value(previous.value)} от {render_date(previous.taken_on)})",
        zone=zone,
    )
