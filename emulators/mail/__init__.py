"""The mail emulator: an SMTP sink (aiosmtpd) with an inbox page and a JSON API.

The gateway sends letters over SMTP to ``EmulatorConfig.smtp_port``; the sink keeps every
letter (any domain) and shows it at ``/mail/inbox`` and ``/mail/messages?to=``.
``docs/emulators/mail.md`` describes the protocol, the quirks and the knobs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from emulators.base import EmulatorParts, EmulatorRuntime, build_app
from emulators.config import EmulatorConfig
from emulators.mail.admin import admin_routes
from emulators.mail.api import api_routes, internal_error
from emulators.mail.pages import page_routes
from emulators.mail.smtp import SinkHandler, SmtpSettings, start_server
from emulators.mail.store import MailStore

__all__ = ["create"]


def create(config: EmulatorConfig, runtime: EmulatorRuntime) -> EmulatorParts:
    """Build the mail sink: its state (letters survive restarts), pages, JSON API, admin,
    and the SMTP server, started in the host's loop on ``config.host:config.smtp_port``.

    There is no demo data of its own: the inbox fills as the gateway sends letters.
    ``runtime.reseed`` empties the inbox and drops SMTP credentials.
    """
    store = MailStore(runtime.db)
    settings = SmtpSettings()

    def reseed() -> None:
        settings.reset()
        store.wipe()

    runtime.reseed = reseed
    handler = SinkHandler(
        store, runtime.clock, runtime.calls, runtime.faults, runtime.rng, settings
    )
    app = build_app(
        runtime,
        [
            *api_routes(store, runtime.calls),
            *page_routes(store, runtime.calls),
            *admin_routes(settings),
        ],
        error_response=internal_error,
    )

    async def start_smtp() -> Callable[[], Awaitable[None]]:
        _, stop = await start_server(handler, config.host, config.smtp_port)
        return stop

    return EmulatorParts(app=app, start_extra=start_smtp)
