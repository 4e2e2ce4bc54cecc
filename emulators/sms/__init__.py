"""The SMS gateway emulator: a REST/JSON API with an API key, an outbox page in Russian.

Modelled on the HTTP APIs of Russian SMS aggregators: ``POST /sms/send`` answers ``HTTP
200`` whatever happens, with ``"status": "OK"`` or ``"ERROR"`` and a code in the body; the
account has a balance in roubles debited per SMS part. ``docs/emulators/sms.md`` describes
the API, the quirks and the knobs.
"""

from __future__ import annotations

from emulators.base import EmulatorParts, EmulatorRuntime, build_app
from emulators.config import EmulatorConfig
from emulators.sms.admin import admin_routes
from emulators.sms.api import api_routes, internal_error
from emulators.sms.pages import page_routes
from emulators.sms.store import SmsStore

__all__ = ["create"]


def create(config: EmulatorConfig, runtime: EmulatorRuntime) -> EmulatorParts:
    """Build the SMS gateway: its state (messages survive restarts), API, outbox and admin.

    There is no demo data of its own: the outbox fills as the gateway sends codes.
    ``runtime.reseed`` empties the outbox and restores the default balance and price.
    """
    store = SmsStore(runtime.db)
    runtime.reseed = store.reseed
    app = build_app(
        runtime,
        [
            *api_routes(store, runtime.calls, runtime.clock, api_key=config.sms_api_key),
            *page_routes(store, runtime.calls),
            *admin_routes(store),
        ],
        error_response=internal_error,
    )
    return EmulatorParts(app=app)
