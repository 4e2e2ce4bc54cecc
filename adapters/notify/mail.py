"""The mail relay's client: letters over SMTP with aiosmtplib.

One SMTP session per letter (connect, optional ``AUTH``, ``MAIL``/``RCPT``/``DATA``,
``QUIT``): letters are rare (confirmation codes), and a fresh session cannot inherit a
broken one. SMTP replies are mapped onto the adapter tree: no answer in time →
:class:`UpstreamTimeout`; refused connection, dropped session or a ``4xx`` (try later) →
:class:`UpstreamUnavailable`; a reply that is not SMTP → :class:`UpstreamMalformed`; a
``5xx`` (unknown recipient, bad credentials, letter refused) → :class:`UpstreamRejected`
with the reply code as the code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import aiosmtplib

from adapters.errors import (
    LegacyError,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.resilience import Resilience

UPSTREAM = "mail"


def compose_letter(
    sender: str, to: str, subject: str, text: str, html: str | None, *, now: datetime
) -> EmailMessage:
    """The letter as it goes on the wire: UTF-8, ``multipart/alternative`` (text, then
    HTML) when there is an HTML version, with ``Date``, ``Message-ID`` and
    ``Auto-Submitted`` (RFC 3834: it is an automatic letter, do not auto-reply)."""
    _, sender_address = parseaddr(sender)
    domain = sender_address.rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    return message


class MailClient:
    """Letters through the SMTP relay (one instance for the app's life; a session per
    letter)."""

    name = UPSTREAM

    def __init__(
        self,
        host: str,
        port: int,
        resilience: Resilience,
        sender: str,
        username: str,
        password: str,
        use_tls: bool,
        timeout: float,
    ) -> None:
        self.host = host
        self.port = port
        self.resilience = resilience
        self.sender = sender
        self.username = username
        self._password = password
        self.use_tls = use_tls
        self.timeout = timeout

    async def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        """Send one letter to ``to`` from the configured sender.

        Never retried: SMTP has no idempotency, and a timeout after ``DATA`` may mean the
        letter was delivered. Raises :class:`UpstreamRejected` (code ``"550"`` and the
        like) when the relay refuses the recipient or the letter.
        """
        message = compose_letter(self.sender, to, subject, text, html, now=datetime.now(UTC))
        _, envelope_from = parseaddr(self.sender)

        async def call() -> None:
            async with self._session() as smtp:
                await smtp.send_message(message, sender=envelope_from, recipients=[to])

        await self.resilience.call(call, retry=False)

    async def ping(self) -> None:
        """Connect, ``EHLO`` + ``NOOP``, ``QUIT``: the relay answers and accepts us (with
        ``AUTH`` when credentials are set)."""

        async def call() -> None:
            async with self._session() as smtp:
                await smtp.noop()

        await self.resilience.call(call, retry=False)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[aiosmtplib.SMTP]:
        """A connected (and logged-in) session, within the timeout overall; ``QUIT`` on
        success, failures mapped to the adapter tree."""
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username or None,
            password=self._password or None,
            use_tls=self.use_tls,
            start_tls=False if self.use_tls else None,
            timeout=self.timeout,
        )
        try:
            async with asyncio.timeout(self.timeout):
                await smtp.connect()
                yield smtp
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise _failure(exc) from exc
        except BaseException:
            smtp.close()
            raise
        # The relay has taken the letter; a failing QUIT must not turn that into an error.
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            async with asyncio.timeout(self.timeout):
                await smtp.quit()
        smtp.close()


def _failure(exc: BaseException) -> LegacyError:
    """An aiosmtplib or socket failure as the adapter tree names it."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        return UpstreamTimeout(UPSTREAM, f"no answer in time ({type(exc).__name__})")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code, reply = exc.code, exc.message
        if 400 <= code < 500:
            return UpstreamUnavailable(UPSTREAM, f"SMTP {code}: {reply}")
        if 500 <= code < 600:
            return UpstreamRejected(UPSTREAM, str(code), reply)
        return UpstreamMalformed(UPSTREAM, f"not an SMTP reply: {reply}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return UpstreamRejected(UPSTREAM, "NOT_SUPPORTED", str(exc))
    return UpstreamUnavailable(UPSTREAM, f"transport failure ({type(exc).__name__}: {exc})")
