"""The SMTP side of the mail sink: an aiosmtpd server in the emulators' event loop.

It accepts every letter for any domain (it is a sink, not a relay) and keeps it in the
store, with a few of the ways real servers refuse: recipients in the reserved ``.invalid``
domain are unknown (``550 5.1.1``), a letter over the size limit is ``552``, and, when the
admin API sets credentials, ``MAIL`` without a successful ``AUTH`` is ``530``.

The emulator's fault knobs (the same :class:`~emulators.faults.Faults` as its HTTP pages)
apply to SMTP too, per connection as HTTP applies them per request:

- ``latency_ms`` + ``jitter_ms``: the greeting comes late;
- ``outage``: the greeting is ``421 4.3.2`` and the connection is closed;
- ``malformed``: the greeting is garbage (no reply code) and the connection is closed;
- ``error_rate``: a letter is refused after ``DATA`` with ``451 4.3.0`` (not stored);
- ``slow_body_ms``: the answer to ``DATA`` comes this late (the letter *is* stored first:
  a client that gives up does not know it was delivered).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from emulators.base import CallLog, Clock
from emulators.faults import Faults, garble
from emulators.mail.store import MailStore

logger = logging.getLogger(__name__)

HOSTNAME = "mail.lkk.example.ru"
"""The name the server greets with."""
IDENT = "ESMTP LKK mail emulator"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_RECIPIENTS = 100


@dataclass
class SmtpSettings:
    """Who may send; changed by ``PUT /_admin/smtp``. No username: any client may send,
    with or without ``AUTH`` (any credentials accepted)."""

    username: str | None = None
    password: str | None = None

    @property
    def requires_auth(self) -> bool:
        """Credentials are set: ``AUTH`` with them is required before ``MAIL``."""
        return self.username is not None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; unknown knobs or bad values raise ``ValueError``."""
        staged = asdict(self)
        for name, value in changes.items():
            if name not in staged:
                raise ValueError(f"unknown SMTP knob {name!r}; known: {sorted(staged)}")
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string or null")
            staged[name] = value
        if (staged["username"] is None) != (staged["password"] is None):
            raise ValueError("set both username and password, or neither")
        self.username, self.password = staged["username"], staged["password"]

    def reset(self) -> None:
        """Back to the default: no credentials needed."""
        self.username = self.password = None

    def public(self) -> dict[str, Any]:
        """The knobs as JSON, the password masked."""
        return {
            "username": self.username,
            "password": None if self.password is None else "***",
        }


def _is_reserved_invalid(address: str) -> bool:
    domain = address.rpartition("@")[2].casefold().rstrip(".")
    return domain == "invalid" or domain.endswith(".invalid")


class SinkHandler:
    """aiosmtpd hooks: check the sender's right to send, the recipients, keep the letter."""

    def __init__(
        self,
        store: MailStore,
        clock: Clock,
        calls: CallLog,
        faults: Faults,
        rng: random.Random,
        settings: SmtpSettings,
    ) -> None:
        self.store = store
        self.clock = clock
        self.calls = calls
        self.faults = faults
        self.rng = rng
        self.settings = settings

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """AUTH PLAIN / LOGIN: any credentials while none are set, else exactly those."""
        self.calls.record("SmtpAuth")
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        settings = self.settings
        if settings.username is None or settings.password is None:
            return AuthResult(success=True, auth_data=auth_data)
        good = hmac.compare_digest(auth_data.login, settings.username.encode()) & (
            hmac.compare_digest(auth_data.password, settings.password.encode())
        )
        return AuthResult(success=good, handled=False, auth_data=auth_data)

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Refuse senders that have not authenticated when credentials are required."""
        if self.settings.requires_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept any mailbox except those in the reserved ``.invalid`` domain."""
        if _is_reserved_invalid(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Error: too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the letter (or refuse it, when the ``error_rate`` fault strikes)."""
        self.calls.record("SmtpMessage")
        faults = self.faults
        if faults.error_rate and self.rng.random() < faults.error_rate:
            return "451 4.3.0 Error: queue file write error, try again later"
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        letter = self.store.add(
            envelope_from=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
            raw=raw,
            now=self.clock.now(),
        )
        logger.info("mail emulator received a letter", extra={"letter": letter.id})
        if faults.slow_body_ms:
            await asyncio.sleep(faults.slow_body_ms / 1000)
        return f"250 2.0.0 Ok: queued as {letter.id}"


class _QuietSession(Session):
    """aiosmtpd's session without the deprecation warning that aiosmtpd itself triggers
    (it still sets ``login_data`` after every successful ``AUTH``)."""

    @property
    def login_data(self) -> Any:
        """The login of the authenticated client."""
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class FaultySMTP(SMTP):
    """aiosmtpd's SMTP session with the emulator's faults applied at the greeting."""

    def __init__(
        self,
        handler: SinkHandler,
        *,
        on_open: Callable[[FaultySMTP], None],
        on_close: Callable[[FaultySMTP], None],
    ) -> None:
        super().__init__(
            handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            hostname=HOSTNAME,
            ident=IDENT,
            auth_require_tls=False,
            authenticator=handler.authenticate,
        )
        self._sink = handler
        self._greeted = False
        self._on_open = on_open
        self._on_close = on_close

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Note the connection so that shutdown can close it."""
        super().connection_made(transport)
        self._on_open(self)

    def connection_lost(self, error: Exception | None) -> None:
        """Forget the connection."""
        self._on_close(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        """Send a reply; the first one (the greeting) is where faults strike."""
        if self._greeted:
            await super().push(status)
            return
        self._greeted = True
        sink = self._sink
        sink.calls.record("SmtpConnect")
        faults = sink.faults
        delay = faults.latency_ms + (
            sink.rng.uniform(0, faults.jitter_ms) if faults.jitter_ms else 0
        )
        if delay:
            await asyncio.sleep(delay / 1000)
        if faults.outage:
            await super().push("421 4.3.2 Service not available, closing transmission channel")
            self.drop()
            return
        if faults.malformed:
            await super().push(b"\xff" + garble(f"220 {HOSTNAME} {IDENT}".encode()))
            self.drop()
            return
        await super().push(status)

    def drop(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.close()


async def start_server(
    handler: SinkHandler, host: str, port: int
) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Listen on ``host:port`` in the running loop; return the bound port and the stopper."""
    sessions: set[FaultySMTP] = set()

    def factory() -> FaultySMTP:
        return FaultySMTP(handler, on_open=sessions.add, on_close=sessions.discard)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host=host, port=port, reuse_address=True)
    bound = int(server.sockets[0].getsockname()[1])

    async def stop() -> None:
        server.close()
        for session in list(sessions):
            session.drop()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=2)

    return bound, stop
