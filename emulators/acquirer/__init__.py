"""The card acquirer emulator: REST API v3, hosted card page, 3-D Secure, signed webhooks.

Modelled on the public APIs of Russian acquirers (YooKassa API v3 style): a shop creates a
payment with an ``Idempotence-Key``, sends its customer to the ``confirmation_url`` (the
hosted card page, then the issuer's 3-D Secure page when the card asks for it), and learns
the outcome from a signed webhook or by reading the payment. ``docs/emulators/acquirer.md``
describes the API, the test cards and the knobs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from emulators.acquirer.admin import admin_routes
from emulators.acquirer.api import api_routes, internal_error
from emulators.acquirer.pages import page_routes
from emulators.acquirer.processing import ProcessingSettings, Processor
from emulators.acquirer.store import PaymentStore
from emulators.acquirer.webhooks import BackgroundTasks, WebhookSender
from emulators.base import EmulatorParts, EmulatorRuntime, build_app
from emulators.config import EmulatorConfig

__all__ = ["create"]


def create(config: EmulatorConfig, runtime: EmulatorRuntime) -> EmulatorParts:
    """Build the acquirer: its state, processor, webhook sender, routes and sweeper.

    The acquirer has no demo data of its own: payments appear as the gateway creates them,
    and survive restarts in the state file. ``runtime.reseed`` forgets them all, cancels
    pending webhook deliveries and puts every knob back to its default.
    """
    store = PaymentStore(runtime.db)
    tasks = BackgroundTasks()
    webhooks = WebhookSender(
        runtime.clock, tasks, url=config.webhook_url, secret=config.webhook_secret
    )
    processor = Processor(
        store,
        runtime.clock,
        webhooks,
        base_url=config.acquirer_url,
        shop_id=config.acquirer_shop_id,
    )

    def reseed() -> None:
        webhooks.reset()
        tasks.cancel_all()
        processor.settings = ProcessingSettings()
        store.wipe()

    runtime.reseed = reseed
    app = build_app(
        runtime,
        [
            *api_routes(
                processor,
                runtime.calls,
                shop_id=config.acquirer_shop_id,
                secret_key=config.acquirer_secret_key,
            ),
            *page_routes(processor, runtime.calls),
            *admin_routes(processor, webhooks),
        ],
        error_response=internal_error,
    )

    async def start_sweeper() -> Callable[[], Awaitable[None]]:
        loop = asyncio.get_running_loop()
        tasks.bind(loop)
        sweeper = loop.create_task(processor.sweep(), name="acquirer-expiry-sweeper")

        async def stop() -> None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await tasks.cancel_and_wait()

        return stop

    return EmulatorParts(app=app, start_extra=start_sweeper)
