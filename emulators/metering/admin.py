"""Metering's own admin API (beside the shared ``/_admin`` of every emulator).

- ``GET/PUT /_admin/maintenance``: the nightly window in force (``{"window": "02:00-02:10"}``,
  empty string: none), so that tests and demos can open it without restarting.
- ``POST /_admin/meters/{id}/inspections``: an inspector reads the meter today (or on
  ``date``): ``{"source": "control"}`` records a control reading of every zone at its
  current value, which locks the period; ``{"source": "dismantling"}`` records the
  dismantling and closes the meter.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.base import Clock
from emulators.metering.api import render_meter
from emulators.metering.formats import CONTROL, DISMANTLING, parse_date
from emulators.metering.maintenance import MaintenanceSchedule, MaintenanceWindow
from emulators.metering.store import MeteringStore

_SOURCES = {"control": CONTROL, "dismantling": DISMANTLING}


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def admin_routes(
    store: MeteringStore, clock: Clock, maintenance: MaintenanceSchedule
) -> list[BaseRoute]:
    """The metering-specific admin routes."""

    def maintenance_state() -> Response:
        window = maintenance.window
        configured = maintenance.configured
        return JSONResponse(
            {
                "window": "" if window is None else str(window),
                "configured": "" if configured is None else str(configured),
                "active": maintenance.active(clock.local_now()) is not None,
            }
        )

    async def maintenance_admin(request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = await _json_object(request)
                spec = body.get("window")
                if not isinstance(spec, str):
                    raise ValueError("give 'window': 'HH:MM-HH:MM' or ''")
                maintenance.window = MaintenanceWindow.parse(spec)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return maintenance_state()

    async def inspection(request: Request) -> Response:
        try:
            body = await _json_object(request)
            source = _SOURCES.get(str(body.get("source", "control")))
            if source is None:
                raise ValueError(f"source must be one of {sorted(_SOURCES)}")
            raw_date = body.get("date")
            on = clock.today() if raw_date is None else parse_date(str(raw_date))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        meter = store.meter(request.path_params["meter_id"])
        if meter is None:
            return JSONResponse({"error": "meter not found"}, status_code=404)
        try:
            store.record_inspection(meter, source, on)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        updated = store.meter(meter.id)
        assert updated is not None
        return JSONResponse(render_meter(updated, store.last_readings(updated)))

    return [
        Route("/_admin/maintenance", maintenance_admin, methods=["GET", "PUT"]),
        Route("/_admin/meters/{meter_id}/inspections", inspection, methods=["POST"]),
    ]
