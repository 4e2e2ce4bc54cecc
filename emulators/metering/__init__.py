"""The metering emulator: the old meter-readings system's REST API, ``/api/v1``.

It serves the demo meters and their monthly readings from :mod:`emulators.data` with the
legacy quirks the adapter must absorb (``dd.mm.yyyy`` dates, decimal commas, zones
``T1``–``T3``, Russian statuses and sources), takes readings idempotently by
``request_id``, refuses implausible ones with ``422`` and locked periods with ``409``, and
answers ``503`` during its nightly maintenance. ``docs/emulators/metering.md`` describes
the API, the rules and the knobs; ``GET /api/v1/openapi.json`` publishes the contract.
"""

from __future__ import annotations

from emulators.base import EmulatorParts, EmulatorRuntime, build_app
from emulators.config import EmulatorConfig
from emulators.metering.admin import admin_routes
from emulators.metering.api import api_routes, internal_error
from emulators.metering.maintenance import MaintenanceSchedule, MaintenanceWindow
from emulators.metering.store import MeteringStore
from emulators.metering.submissions import Submissions

__all__ = ["create"]


def create(config: EmulatorConfig, runtime: EmulatorRuntime) -> EmulatorParts:
    """Build metering: its state (seeded with the demo data when new), rules and routes.

    State survives restarts when the config has a data folder. ``runtime.reseed`` rebuilds
    the demo data as of the emulator clock's today, forgets every submission and remembered
    ``request_id``, and puts the maintenance window back to the configured one.
    """
    store = MeteringStore(runtime.db)
    maintenance = MaintenanceSchedule(MaintenanceWindow.parse(config.maintenance_window))
    submissions = Submissions(store, runtime.clock)
    if not store.is_seeded():
        store.seed(runtime.clock.today())

    def reseed() -> None:
        maintenance.reset()
        store.seed(runtime.clock.today())

    runtime.reseed = reseed
    app = build_app(
        runtime,
        [
            *api_routes(store, submissions, runtime.calls, runtime.clock, maintenance),
            *admin_routes(store, runtime.clock, maintenance),
        ],
        error_response=internal_error,
    )
    return EmulatorParts(app=app)
