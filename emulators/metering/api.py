"""Metering's REST API, ``/api/v1``, with the old system's quirks (see ``formats``).

Every error, whatever the status, has one shape::

    {"result": "error", "code": "VALUE_BELOW_PREVIOUS", "message": "<Russian>", "zone": "T1"}

During the nightly maintenance window every call but ``openapi.json`` is answered
``503`` with code ``MAINTENANCE`` and ``Retry-After``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.base import CallLog, Clock
from emulators.faults import CannedResponse
from emulators.metering.formats import parse_date, render_date, render_time, render_value
from emulators.metering.maintenance import MaintenanceSchedule
from emulators.metering.openapi import OPENAPI
from emulators.metering.store import MeteringStore, MeterRow, ReadingRow
from emulators.metering.submissions import Refusal, Submissions, error_body

PREFIX = "/api/v1"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
"""Larger ``limit`` values are quietly cut to this (the answer's ``limit`` says so)."""
SYSTEM = "АИС «Учёт показаний»"
VERSION = "3.4.17"

Handler = Callable[[Request], Awaitable[Response]]


MAX_BULK_ACCOUNTS = 50
"""Most accounts one bulk read of meters may name."""


def internal_error() -> CannedResponse:
    """What metering answers when it breaks inside (the ``error_rate`` fault): its servlet
    container's error page, not JSON."""
    body = (
        "<html><head><title>Apache Tomcat/7.0.52 - Error report</title></head><body>"
        "<h1>HTTP Status 500 - Request processing failed; nested exception is "
        "java.lang.NullPointerException</h1></body></html>"
    )
    return CannedResponse(500, body.encode(), "text/html;charset=utf-8")


def refusal_response(refusal: Refusal) -> Response:
    """A refusal as metering answers it."""
    answer = refusal.answer()
    return JSONResponse(answer.body, status_code=answer.status)


def render_meter(meter: MeterRow, last: list[ReadingRow]) -> dict[str, Any]:
    """A meter as ``GET /accounts/{number}/meters`` lists it."""
    return {
        "id": int(meter.id),
        "serial": meter.serial,
        "model": meter.model,
        "zones": list(meter.zones),
        "digits": meter.digits,
        "status": meter.status,
        "installed": render_date(meter.installed),
        "closed": None if meter.closed is None else render_date(meter.closed),
        "verification_due": render_date(meter.verification_due),
        "last_readings": {
            reading.zone: {
                "value": render_value(reading.value),
                "date": render_date(reading.taken_on),
            }
            for reading in last
        },
    }


def render_reading(reading: ReadingRow) -> dict[str, Any]:
    """One item of a readings page."""
    return {
        "date": render_date(reading.taken_on),
        "zone": reading.zone,
        "value": render_value(reading.value),
        "source": reading.source,
        "status": reading.status,
    }


def _date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_date(raw)
    except ValueError as exc:
        raise Refusal(
            400,
            "INVALID_PARAMETER",
            f"Неверный параметр {name}: укажите дату ДД.ММ.ГГГГ",
            parameter=name,
        ) from exc


def _int_param(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise Refusal(
            400,
            "INVALID_PARAMETER",
            f"Неверный параметр {name}: целое число не меньше {minimum}",
            parameter=name,
        )
    return value


def api_routes(
    store: MeteringStore,
    submissions: Submissions,
    calls: CallLog,
    clock: Clock,
    maintenance: MaintenanceSchedule,
) -> list[BaseRoute]:
    """The ``/api/v1`` routes."""

    def operation(name: str, handler: Handler, *, during_maintenance: bool = False) -> Handler:
        """Count the call, answer 503 in the maintenance window, turn refusals into answers."""

        async def run(request: Request) -> Response:
            calls.record(name)
            local = clock.local_now()
            window = None if during_maintenance else maintenance.active(local)
            if window is not None:
                return JSONResponse(
                    error_body(
                        "MAINTENANCE",
                        f"Регламентные работы с {window.start:%H:%M} до {window.end:%H:%M} "
                        "(время местное). Повторите запрос позже",
                    ),
                    status_code=503,
                    headers={"Retry-After": str(window.seconds_left(local))},
                )
            try:
                return await handler(request)
            except Refusal as refusal:
                return refusal_response(refusal)

        return run

    async def status(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "OK",
                "system": SYSTEM,
                "version": VERSION,
                "time": render_time(clock.now()),
            }
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def list_meters(request: Request) -> Response:
        number = request.path_params["number"]
        if not store.account_exists(number):
            raise Refusal(404, "ACCOUNT_NOT_FOUND", f"Лицевой счёт {number} не найден")
        meters = store.meters_of(number)
        return JSONResponse(
            {
                "account": number,
                "meters": [render_meter(m, store.last_readings(m)) for m in meters],
            }
        )

    async def list_meters_bulk(request: Request) -> Response:
        """``GET /meters?account=A&account=B``: the meters of several accounts at once
        (the bulk read front ends of the old system use); unknown accounts are left out."""
        numbers = list(dict.fromkeys(request.query_params.getlist("account")))
        if not numbers or len(numbers) > MAX_BULK_ACCOUNTS:
            raise Refusal(
                400,
                "INVALID_REQUEST",
                f"Укажите от 1 до {MAX_BULK_ACCOUNTS} лицевых счетов (параметр account)",
            )
        return JSONResponse(
            {
                "accounts": [
                    {
                        "account": number,
                        "meters": [
                            render_meter(m, store.last_readings(m)) for m in store.meters_of(number)
                        ],
                    }
                    for number in numbers
                    if store.account_exists(number)
                ]
            }
        )

    async def list_readings(request: Request) -> Response:
        meter = store.meter(request.path_params["meter_id"])
        if meter is None:
            raise Refusal(
                404,
                "METER_NOT_FOUND",
                f"Прибор учёта {request.path_params['meter_id']} не найден",
            )
        since = _date_param(request, "from")
        until = _date_param(request, "to")
        offset = _int_param(request, "offset", 0, 0)
        limit = min(_int_param(request, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
        total, items = store.readings_page(
            meter.id, since=since, until=until, offset=offset, limit=limit
        )
        return JSONResponse(
            {
                "meter_id": int(meter.id),
                "zones": list(meter.zones),
                "total": total,
                "offset": offset,
                "limit": limit,
                "items": [render_reading(item) for item in items],
            }
        )

    async def submit_readings(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Refusal(400, "INVALID_REQUEST", "Тело запроса не является JSON") from exc
        answer = submissions.submit(request.path_params["meter_id"], body)
        return JSONResponse(answer.body, status_code=answer.status)

    return [
        Route(f"{PREFIX}/status", operation("GetStatus", status), methods=["GET"]),
        Route(
            f"{PREFIX}/openapi.json",
            operation("GetOpenApi", openapi, during_maintenance=True),
            methods=["GET"],
        ),
        Route(
            f"{PREFIX}/accounts/{{number}}/meters",
            operation("ListMeters", list_meters),
            methods=["GET"],
        ),
        Route(f"{PREFIX}/meters", operation("ListMetersBulk", list_meters_bulk), methods=["GET"]),
        Route(
            f"{PREFIX}/meters/{{meter_id}}/readings",
            operation("ListReadings", list_readings),
            methods=["GET"],
        ),
        Route(
            f"{PREFIX}/meters/{{meter_id}}/readings",
            operation("SubmitReadings", submit_readings),
            methods=["POST"],
        ),
    ]
