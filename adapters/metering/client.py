"""Metering's client: meters, reading history and submissions over its REST API ``/api/v1``.

Submissions carry a ``request_id`` that metering honours (a repeat returns the first
answer), so they are retried like reads: a try that timed out and is repeated cannot make
a second submission. Metering answers ``503`` during its nightly maintenance; that, like
any 5xx, a time-out or a garbled answer, is :class:`~adapters.errors.UpstreamUnavailable`
(the gateway queues the reading in its outbox, MTR-7).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from adapters.errors import NotFound, UpstreamMalformed, UpstreamRejected, UpstreamUnavailable
from adapters.http import UpstreamHttp, UpstreamResponse, json_body, send
from adapters.metering.errors import PeriodLocked, ReadingRejected
from adapters.metering.models import (
    ZONE_SCHEMES,
    Meter,
    Reading,
    ReadingSource,
    ReadingsPage,
    ReadingStatus,
    RejectionReason,
    SubmittedReading,
    SubmittedZone,
    TariffZone,
    ZoneReading,
)
from adapters.resilience import Resilience

T = TypeVar("T")

UPSTREAM = "metering"
METERING_TZ = ZoneInfo("Asia/Yekaterinburg")
"""Metering writes local times of the utility (Tyumen) without an offset."""
MAX_PAGE = 100
MAX_BULK = 50
"""Most accounts metering takes in one bulk read of meters."""
"""Metering cuts larger pages to this size."""

_SOURCES = {
    "Абонент": ReadingSource.CUSTOMER,
    "Контрольное снятие": ReadingSource.CONTROL,
    "Демонтаж": ReadingSource.DISMANTLING,
}
_STATUSES = {"Принято": ReadingStatus.ACCEPTED, "Заменено": ReadingStatus.REPLACED}
_METER_STATUSES = {"Действует": True, "Закрыт": False}
_CODES = {count: tuple(f"T{n}" for n in range(1, count + 1)) for count in ZONE_SCHEMES}
_SCHEMES = {frozenset(zones): zones for zones in ZONE_SCHEMES.values()}
_DATE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")
_PERIOD = re.compile(r"^(\d{2})\.(\d{4})$")
_VALUE = re.compile(r"^\d+(,\d+)?$")
_TIME_FORMAT = "%d.%m.%Y %H:%M:%S"


class MeteringClient:
    """Meters and readings through metering (one instance, one HTTP client, for the app's
    life). ``http`` has metering's API base as ``base_url`` (``…/api/v1``)."""

    name = UPSTREAM

    def __init__(self, http: UpstreamHttp, resilience: Resilience) -> None:
        self.http = http
        self.resilience = resilience

    async def list_meters(self, account_number: str) -> list[Meter]:
        """The account's meters with the last reading of each zone; :class:`NotFound` for
        an account metering does not know."""

        async def call() -> list[Meter]:
            response = await send(
                self.http, UPSTREAM, "GET", f"/accounts/{quote(account_number, safe='')}/meters"
            )
            return parse_meters(_answer(response))

        return await self.resilience.call(call, retry=True)

    async def list_meters_of(self, account_numbers: Sequence[str]) -> dict[str, list[Meter]]:
        """The meters of several accounts, one call per ``MAX_BULK`` accounts
        (``GET /meters?account=…``); an account metering does not know is absent."""
        numbers = list(dict.fromkeys(account_numbers))
        found: dict[str, list[Meter]] = {}
        for start in range(0, len(numbers), MAX_BULK):
            chunk = numbers[start : start + MAX_BULK]

            async def call(chunk: list[str] = chunk) -> dict[str, list[Meter]]:
                response = await send(
                    self.http, UPSTREAM, "GET", "/meters", params=[("account", n) for n in chunk]
                )
                return parse_meters_bulk(_answer(response))

            found.update(await self.resilience.call(call, retry=True))
        return found

    async def list_readings(
        self,
        meter_id: str,
        from_: date | None = None,
        to: date | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> ReadingsPage:
        """One page of the meter's history between the dates (inclusive), newest first.
        Metering serves at most :data:`MAX_PAGE` readings a page (the page's ``limit``
        says what it applied). :class:`NotFound` for an unknown meter."""
        params: dict[str, str | int] = {"offset": offset, "limit": limit}
        if from_ is not None:
            params["from"] = _render_date(from_)
        if to is not None:
            params["to"] = _render_date(to)

        async def call() -> ReadingsPage:
            response = await send(
                self.http,
                UPSTREAM,
                "GET",
                f"/meters/{quote(meter_id, safe='')}/readings",
                params=params,
            )
            return parse_readings_page(_answer(response))

        return await self.resilience.call(call, retry=True)

    async def iter_readings(
        self,
        meter_id: str,
        from_: date | None = None,
        to: date | None = None,
        *,
        page_size: int = MAX_PAGE,
    ) -> AsyncIterator[Reading]:
        """Every reading between the dates, newest first, walking the pages."""
        offset = 0
        while True:
            page = await self.list_readings(meter_id, from_, to, offset=offset, limit=page_size)
            for reading in page.items:
                yield reading
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def submit_readings(
        self,
        meter_id: str,
        request_id: str,
        values: Mapping[TariffZone, Decimal],
        on: date | None = None,
    ) -> SubmittedReading:
        """Submit one value per zone of the meter, dated ``on`` (metering's today when
        None); the last submission of a period replaces the earlier ones (MTR-4).

        ``values`` must name exactly the zones of one scheme of :data:`ZONE_SCHEMES`
        (``ValueError`` otherwise); metering checks they are the meter's. Retried on
        failure: ``request_id`` makes every try the same submission, and a repeat returns
        the first answer. Refusals: :class:`ReadingRejected` (422, with the reason and the
        zone at fault), :class:`PeriodLocked` (409), :class:`NotFound` (unknown meter).
        """
        scheme = _SCHEMES.get(frozenset(values))
        if scheme is None:
            raise ValueError(
                "values must name the zones of one scheme: "
                + " | ".join("+".join(z) for z in ZONE_SCHEMES.values())
            )
        codes = _CODES[len(scheme)]
        body: dict[str, Any] = {
            "request_id": request_id,
            "values": {
                code: _render_value(values[zone]) for code, zone in zip(codes, scheme, strict=True)
            },
        }
        if on is not None:
            body["date"] = _render_date(on)

        async def call() -> SubmittedReading:
            response = await send(
                self.http,
                UPSTREAM,
                "POST",
                f"/meters/{quote(meter_id, safe='')}/readings",
                json=body,
            )
            return parse_submission(_answer(response, zone_count=len(scheme)))

        return await self.resilience.call(call, retry=True)

    async def ping(self) -> None:
        """One cheap round trip (``GET /status``) for health probes; fails during
        maintenance."""

        async def call() -> None:
            answer = _answer(await send(self.http, UPSTREAM, "GET", "/status"))
            if not isinstance(answer, dict) or answer.get("status") != "OK":
                raise UpstreamMalformed(UPSTREAM, "status answer without status OK")

        await self.resilience.call(call, retry=False)


# --- answers and errors ----------------------------------------------------------------


def _answer(response: UpstreamResponse, *, zone_count: int | None = None) -> Any:
    """The JSON of a 2xx answer; metering's error shape mapped to the exception tree."""
    body = json_body(UPSTREAM, response)
    if response.is_success:
        return body
    if (
        not isinstance(body, dict)
        or body.get("result") != "error"
        or not isinstance(body.get("code"), str)
        or not isinstance(body.get("message"), str)
    ):
        raise UpstreamMalformed(UPSTREAM, f"HTTP {response.status_code} without an error body")
    code: str = body["code"]
    message: str = body["message"]
    status = response.status_code
    if status == 404:
        raise NotFound(UPSTREAM, message, code=code)
    if status == 429:
        raise UpstreamUnavailable(UPSTREAM, f"too many requests: {message}")
    if status == 409 and code == "PERIOD_LOCKED":
        raise _parse(_period_locked, body)
    if status == 422 and code != "REQUEST_ID_REUSED":
        try:
            reason = RejectionReason(code)
        except ValueError:
            reason = RejectionReason.OTHER
        zone = body.get("zone")
        raise ReadingRejected(
            UPSTREAM,
            code,
            message,
            reason=reason,
            zone=_zone_or_none(zone, zone_count),
        )
    raise UpstreamRejected(UPSTREAM, code, message)


def _zone_or_none(code: Any, zone_count: int | None) -> TariffZone | None:
    if not isinstance(code, str) or zone_count is None:
        return None
    try:
        return _zone(code, zone_count)
    except ValueError:
        return None


def _period_locked(body: dict[str, Any]) -> PeriodLocked:
    period = body.get("period")
    locked_by = body.get("locked_by")
    locked_on = body.get("locked_on")
    return PeriodLocked(
        UPSTREAM,
        body["code"],
        body["message"],
        period=None if period is None else _period(period),
        locked_by=None if locked_by is None else _SOURCES[locked_by],
        locked_on=None if locked_on is None else _date(locked_on),
    )


def _parse(parser: Callable[[Any], T], raw: Any) -> T:
    """``parser(raw)``, or :class:`UpstreamMalformed` when ``raw`` is out of contract."""
    try:
        return parser(raw)
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
        raise UpstreamMalformed(UPSTREAM, f"answer out of contract: {exc!r}") from exc


# --- metering's formats ----------------------------------------------------------------


def _render_date(day: date) -> str:
    return f"{day:%d.%m.%Y}"


def _render_value(value: Decimal) -> str:
    """A value as metering reads it: decimal comma, no exponent, no trailing zeros."""
    text = f"{value.normalize():f}" if value.is_finite() else str(value)
    return text.replace(".", ",")


def _text(raw: Any, name: str) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"{name} must be a string")
    return raw


def _int(raw: Any, name: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise TypeError(f"{name} must be an integer")
    return raw


def _date(raw: Any) -> date:
    return _date_of(_text(raw, "date"))


@lru_cache(maxsize=4096)
def _date_of(text: str) -> date:
    """A ``dd.mm.yyyy`` date, remembered: a page of readings repeats a few dates, and this
    was the largest part of parsing one (docs/performance.md)."""
    match = _DATE.match(text)
    if match is None:
        raise ValueError(f"not a dd.mm.yyyy date: {text!r}")
    day, month, year = match.groups()
    return date(int(year), int(month), int(day))


def _period(raw: Any) -> date:
    match = _PERIOD.match(_text(raw, "period"))
    if match is None:
        raise ValueError(f"not a mm.yyyy period: {raw!r}")
    return date(int(match.group(2)), int(match.group(1)), 1)


def _value(raw: Any) -> Decimal:
    return _value_of(_text(raw, "value"))


@lru_cache(maxsize=4096)
def _value_of(text: str) -> Decimal:
    """A decimal-comma value, remembered like :func:`_date_of` (``Decimal`` is immutable)."""
    if not _VALUE.match(text):
        raise ValueError(f"not a decimal-comma value: {text!r}")
    return Decimal(text.replace(",", "."))


def _zones(raw: Any) -> int:
    """The zone count of a zone list, which must be ``T1``…``Tn``."""
    if not isinstance(raw, list) or tuple(raw) not in _CODES.values():
        raise ValueError(f"unexpected zones {raw!r}")
    return len(raw)


def _zone(code: Any, zone_count: int) -> TariffZone:
    codes = _CODES[zone_count]
    if code not in codes:
        raise ValueError(f"zone {code!r} of a {zone_count}-zone meter")
    return ZONE_SCHEMES[zone_count][codes.index(code)]


# --- records ---------------------------------------------------------------------------


def parse_meters(raw: Any) -> list[Meter]:
    """The meters of a ``GET /accounts/{number}/meters`` answer, or
    :class:`UpstreamMalformed` when the JSON is out of contract."""
    return _parse(_meters, raw)


def parse_meters_bulk(raw: Any) -> dict[str, list[Meter]]:
    """The meters per account of a ``GET /meters?account=…`` answer, or
    :class:`UpstreamMalformed`."""
    return _parse(_meters_bulk, raw)


def _meters_bulk(raw: Any) -> dict[str, list[Meter]]:
    return {str(item["account"]): _meters(item) for item in raw["accounts"]}


def parse_readings_page(raw: Any) -> ReadingsPage:
    """A ``GET /meters/{id}/readings`` answer, or :class:`UpstreamMalformed`."""
    return _parse(_page, raw)


def parse_submission(raw: Any) -> SubmittedReading:
    """A ``POST /meters/{id}/readings`` answer (201), or :class:`UpstreamMalformed`."""
    return _parse(_submission, raw)


def _meters(raw: Any) -> list[Meter]:
    return [_meter(item) for item in raw["meters"]]


def _meter(raw: Any) -> Meter:
    count = _zones(raw["zones"])
    closed = raw.get("closed")
    last = raw["last_readings"]
    if not isinstance(last, dict):
        raise TypeError("last_readings must be an object")
    return Meter(
        id=str(_int(raw["id"], "id")),
        serial=_text(raw["serial"], "serial"),
        model=_text(raw.get("model", ""), "model"),
        zones=ZONE_SCHEMES[count],
        digits=_int(raw["digits"], "digits"),
        active=_METER_STATUSES[raw["status"]],
        installed=_date(raw["installed"]),
        closed_on=None if closed is None else _date(closed),
        verification_due=_date(raw["verification_due"]),
        last_readings=tuple(
            ZoneReading(
                zone=_zone(code, count), value=_value(item["value"]), date=_date(item["date"])
            )
            for code, item in sorted(last.items())
        ),
    )


def _page(raw: Any) -> ReadingsPage:
    count = _zones(raw["zones"])
    return ReadingsPage(
        total=_int(raw["total"], "total"),
        offset=_int(raw["offset"], "offset"),
        limit=_int(raw["limit"], "limit"),
        items=tuple(
            Reading(
                date=_date(item["date"]),
                zone=_zone(item["zone"], count),
                value=_value(item["value"]),
                source=_SOURCES[item["source"]],
                status=_STATUSES[item["status"]],
            )
            for item in raw["items"]
        ),
    )


def _submission(raw: Any) -> SubmittedReading:
    readings = raw["readings"]
    count = _zones([item["zone"] for item in readings])
    registered = datetime.strptime(
        _text(raw["registered_at"], "registered_at"), _TIME_FORMAT
    ).replace(tzinfo=METERING_TZ)
    replaced = raw["replaced"]
    if not isinstance(replaced, bool):
        raise TypeError("replaced must be a boolean")
    if _STATUSES[raw["status"]] is not ReadingStatus.ACCEPTED:
        raise ValueError("a submission answered as not accepted")
    return SubmittedReading(
        request_id=_text(raw["request_id"], "request_id"),
        meter_id=str(_int(raw["meter_id"], "meter_id")),
        date=_date(raw["date"]),
        period=_period(raw["period"]),
        replaced=replaced,
        registered_at=registered,
        zones=tuple(
            SubmittedZone(
                zone=_zone(item["zone"], count),
                value=_value(item["value"]),
                previous=None if item["previous"] is None else _value(item["previous"]),
                previous_date=(
                    None if item["previous_date"] is None else _date(item["previous_date"])
                ),
                consumption=None if item["consumption"] is None else _value(item["consumption"]),
            )
            for item in readings
        ),
    )
