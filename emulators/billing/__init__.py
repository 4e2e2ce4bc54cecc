"""The billing emulator: the retailer's old billing system as a SOAP 1.1 web service.

A hand-written WSDL (document/literal, ``urn:lkk:billing:v1``) at ``/billing?wsdl`` and
seven operations at ``POST /billing``: accounts, balances, statements, printed receipts,
payments and payment posting. ``docs/emulators/billing.md`` describes the contract, the
quirks and the knobs.
"""

from __future__ import annotations

from datetime import timedelta

from emulators.base import EmulatorParts, EmulatorRuntime, build_app
from emulators.billing.api import admin_routes, soap_routes
from emulators.billing.ledger import Ledger
from emulators.billing.receipts import ReceiptCache
from emulators.billing.service import BillingService
from emulators.billing.soap import system_busy
from emulators.config import EmulatorConfig

__all__ = ["create"]


def create(config: EmulatorConfig, runtime: EmulatorRuntime) -> EmulatorParts:
    """Build billing: its ledger over the state file, the receipt cache and the routes.

    The demo data is derived from the emulator clock's date and never stored; only posted
    payments are. ``runtime.reseed`` forgets them and the rendered receipts.
    """
    ledger = Ledger(
        runtime.db,
        runtime.clock,
        booking_delay=timedelta(seconds=config.booking_delay_seconds),
    )
    receipts = ReceiptCache()
    service = BillingService(ledger, receipts, runtime.calls)

    def reseed() -> None:
        ledger.wipe()
        receipts.clear()

    runtime.reseed = reseed
    app = build_app(
        runtime,
        [
            *soap_routes(service, runtime.calls, address=config.billing_url),
            *admin_routes(receipts),
        ],
        error_response=system_busy,
    )
    return EmulatorParts(app=app)
