"""Contract tests: the SMS and mail adapters against their emulators, over sockets."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from adapters.http import UpstreamHttp
from adapters.notify import (
    CircuitOpen,
    MailClient,
    SmsClient,
    SmsErrorCode,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    compose_letter,
)
from adapters.resilience import Resilience
from emulators.host import EmulatorHost
from tests.adapters.support import Counted, fast_resilience
from tests.emulators.test_mail import smtp_calls

PHONE = "79123456789"
SENDER = "ЛКК <noreply@lkk.example.ru>"
TIMEOUT = 0.3
HTML = '<!doctype html><html lang="ru"><body><p>Код: <b>654321</b></p></body></html>'


def resilience(name: str, failure_threshold: int = 100) -> Resilience:
    """Fast retries and a breaker that stays closed unless a test lowers it."""
    return fast_resilience(name, failure_threshold)


def faults(emulators: EmulatorHost, system: str, **knobs: Any) -> None:
    """Make an emulator misbehave."""
    emulators.runtimes[system].faults.update(knobs)


def free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def inspect(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the emulators' JSON listings and admin APIs."""
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


# --- SMS -------------------------------------------------------------------------------


Sms = Counted[SmsClient, UpstreamHttp]


SmsFactory = Callable[..., Sms]
"""Builds an SMS adapter: ``api_key=``, ``base_url=``, ``threshold=`` (breaker)."""


@pytest.fixture
async def sms_for(emulators: EmulatorHost) -> AsyncIterator[SmsFactory]:
    """A factory of SMS adapters wired as the gateway wires them (clients closed after)."""
    opened: list[UpstreamHttp] = []

    def build(
        *, api_key: str | None = None, base_url: str | None = None, threshold: int = 100
    ) -> Sms:
        http = UpstreamHttp(
            base_url or emulators.config.sms_url, timeout=TIMEOUT, connect_timeout=TIMEOUT
        )
        opened.append(http)
        client = SmsClient(
            http,
            resilience("sms", threshold),
            api_key=emulators.config.sms_api_key if api_key is None else api_key,
            sender="LKK",
        )
        return Sms(client, http)

    yield build
    for http in opened:
        await http.aclose()


@pytest.fixture
def sms(sms_for: SmsFactory) -> Sms:
    """The SMS adapter with the right key."""
    return sms_for()


async def sms_messages(
    inspect: httpx.AsyncClient, emulators: EmulatorHost, phone: str = PHONE
) -> list[dict[str, Any]]:
    """What the SMS emulator holds for ``phone``."""
    answer = await inspect.get(f"{emulators.config.sms_url}/sms/messages", params={"phone": phone})
    messages: list[dict[str, Any]] = answer.json()
    return messages


async def test_send_returns_the_gateway_id_and_the_text_arrives(
    sms: Sms, inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    message_id = await sms.client.send(PHONE, "Код подтверждения: 123456")

    # then
    [message] = await sms_messages(inspect, emulators)
    assert message_id == message["id"]
    assert message["text"] == "Код подтверждения: 123456"
    assert message["sender"] == "LKK"
    assert emulators.runtimes["sms"].calls.snapshot() == {"SendSms": 1, "ListMessages": 1}


@pytest.mark.parametrize(
    ("phone", "text", "code"),
    [
        ("89123456789", "Код", SmsErrorCode.INVALID_PHONE),
        ("+79123456789", "Код", SmsErrorCode.INVALID_PHONE),
        (PHONE, " ", SmsErrorCode.EMPTY_TEXT),
        (PHONE, "ж" * 1000, SmsErrorCode.TEXT_TOO_LONG),
    ],
    ids=lambda value: str(value)[:12],
)
async def test_a_refusal_in_an_http_200_is_rejected_with_the_gateway_code(
    sms: Sms, phone: str, text: str, code: SmsErrorCode
) -> None:
    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await sms.client.send(phone, text)
    assert raised.value.code == code
    assert raised.value.upstream == "sms"
    assert raised.value.message  # the gateway's Russian text
    assert sms.requests == 1


async def test_a_wrong_api_key_is_rejected(sms_for: SmsFactory) -> None:
    # given
    sms = sms_for(api_key="wrong")

    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await sms.client.send(PHONE, "Код")
    assert raised.value.code == SmsErrorCode.INVALID_API_KEY
    assert raised.value.message == "Неверный API-ключ"


async def test_an_empty_account_is_rejected_and_nothing_is_sent(
    sms: Sms, inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await inspect.put(f"{emulators.config.sms_url}/_admin/sms", json={"balance": "0"})

    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await sms.client.send(PHONE, "Код")
    assert raised.value.code == SmsErrorCode.INSUFFICIENT_BALANCE
    assert await sms_messages(inspect, emulators) == []


async def test_balance_is_a_decimal_in_roubles(sms: Sms) -> None:
    # given
    await sms.client.send(PHONE, "Код: 123456")

    # when
    left = await sms.client.balance()

    # then
    assert left == Decimal("4997.50")
    assert str(left) == "4997.50"


async def test_ping_reaches_the_gateway(sms: Sms, emulators: EmulatorHost) -> None:
    # when
    await sms.client.ping()

    # then
    assert emulators.runtimes["sms"].calls.snapshot() == {"GetBalance": 1}


async def test_ping_with_a_wrong_key_is_rejected(sms_for: SmsFactory) -> None:
    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await sms_for(api_key="wrong").client.ping()
    assert raised.value.code == SmsErrorCode.INVALID_API_KEY


async def test_the_internal_error_in_an_http_200_is_unavailable_and_send_is_not_retried(
    sms: Sms, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, "sms", error_rate=1)

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await sms.client.send(PHONE, "Код")
    assert type(raised.value) is UpstreamUnavailable
    assert "INTERNAL_ERROR" in raised.value.message
    assert sms.requests == 1


async def test_an_sms_outage_is_unavailable_and_send_is_not_retried(
    sms: Sms, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, "sms", outage=True)

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await sms.client.send(PHONE, "Код")
    assert "HTTP 503" in raised.value.message
    assert sms.requests == 1


async def test_balance_is_retried_but_ping_is_not(sms: Sms, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, "sms", outage=True)

    # when
    with pytest.raises(UpstreamUnavailable):
        await sms.client.balance()
    after_balance = sms.requests
    with pytest.raises(UpstreamUnavailable):
        await sms.client.ping()

    # then
    assert after_balance == 3
    assert sms.requests == 4


async def test_latency_beyond_the_timeout_is_a_timeout_without_retry(
    sms: Sms, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, "sms", latency_ms=TIMEOUT * 1000 + 200)

    # when / then
    with pytest.raises(UpstreamTimeout):
        await sms.client.send(PHONE, "Код")
    assert sms.requests == 1


async def test_a_malformed_answer_is_malformed(sms: Sms, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, "sms", malformed=True)

    # when / then
    with pytest.raises(UpstreamMalformed):
        await sms.client.send(PHONE, "Код")


async def test_an_answer_that_is_not_the_gateway_speaking_is_malformed(
    sms_for: SmsFactory, emulators: EmulatorHost
) -> None:
    # given: a URL where no gateway answers (404 from the emulator's router)
    sms = sms_for(base_url=f"{emulators.config.sms_url}/wrong")

    # when / then
    with pytest.raises(UpstreamMalformed) as raised:
        await sms.client.send(PHONE, "Код")
    assert "HTTP 404" in raised.value.message


async def test_a_refused_connection_to_the_sms_gateway_is_unavailable(sms_for: SmsFactory) -> None:
    # given
    sms = sms_for(base_url=f"http://127.0.0.1:{free_port()}")

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await sms.client.send(PHONE, "Код")
    assert type(raised.value) is UpstreamUnavailable


async def test_the_breaker_opens_and_spares_the_gateway(
    sms_for: SmsFactory, emulators: EmulatorHost
) -> None:
    # given
    sms = sms_for(threshold=2)
    faults(emulators, "sms", outage=True)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await sms.client.send(PHONE, "Код")

    # when / then
    with pytest.raises(CircuitOpen):
        await sms.client.send(PHONE, "Код")
    assert sms.requests == 2


async def test_refusals_do_not_open_the_breaker(sms_for: SmsFactory) -> None:
    # given
    sms = sms_for(threshold=2)

    # when
    for _ in range(3):
        with pytest.raises(UpstreamRejected):
            await sms.client.send("1", "Код")

    # then
    assert await sms.client.send(PHONE, "Код")


# --- mail ------------------------------------------------------------------------------


def mail_client(
    emulators: EmulatorHost,
    *,
    port: int | None = None,
    username: str = "",
    password: str = "",
    threshold: int = 100,
) -> MailClient:
    """The mail adapter wired as the gateway wires it."""
    return MailClient(
        emulators.config.host,
        emulators.config.smtp_port if port is None else port,
        resilience("mail", threshold),
        sender=SENDER,
        username=username,
        password=password,
        use_tls=False,
        timeout=TIMEOUT,
    )


@pytest.fixture
def mail(emulators: EmulatorHost) -> MailClient:
    """The mail adapter against the emulator, no credentials."""
    return mail_client(emulators)


async def letters_to(
    inspect: httpx.AsyncClient, emulators: EmulatorHost, to: str
) -> list[dict[str, Any]]:
    """What the mail emulator holds for ``to``."""
    answer = await inspect.get(f"{emulators.config.mail_url}/mail/messages", params={"to": to})
    letters: list[dict[str, Any]] = answer.json()
    return letters


async def test_send_delivers_a_letter_with_text_and_html(
    mail: MailClient, inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    await mail.send("Petrov@example.ru", "Подтверждение адреса", "Код: 654321\n", HTML)

    # then
    [found] = await letters_to(inspect, emulators, "petrov@example.ru")
    assert found["from"] == SENDER
    assert found["to"] == "Petrov@example.ru"
    assert found["envelope_from"] == "noreply@lkk.example.ru"
    assert found["recipients"] == ["Petrov@example.ru"]
    assert found["subject"] == "Подтверждение адреса"
    assert found["text"] == "Код: 654321\n"
    assert found["html"] == HTML + "\n"
    assert found["message_id"].endswith("@lkk.example.ru>")
    sent = datetime.fromisoformat(found["date"])
    assert abs((sent - datetime.now(UTC)).total_seconds()) < 60
    assert smtp_calls(emulators) == {"SmtpConnect": 1, "SmtpMessage": 1}


async def test_the_letter_on_the_wire_is_utf8_multipart_alternative_with_proper_headers(
    mail: MailClient, inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await mail.send("p@example.ru", "Тема", "Текст", HTML)
    [found] = await letters_to(inspect, emulators, "p@example.ru")

    # when
    raw = await inspect.get(f"{emulators.config.mail_url}/mail/messages/{found['id']}/raw")

    # then
    message = BytesParser(policy=policy.default).parsebytes(raw.content)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())
    assert message["MIME-Version"] == "1.0"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == found["message_id"]
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert "=?utf-8?" in raw.text  # the Cyrillic headers are RFC 2047-encoded
    assert "Тема" not in raw.text.split("\r\n\r\n", 1)[0]


async def test_a_letter_without_html_is_plain_text(
    mail: MailClient, inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    await mail.send("p@example.ru", "Тема", "Только текст", None)

    # then
    [found] = await letters_to(inspect, emulators, "p@example.ru")
    assert found["text"] == "Только текст\n"
    assert found["html"] is None


async def test_a_refused_recipient_is_rejected_with_the_smtp_code(
    mail: MailClient, inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await mail.send("nobody@example.invalid", "Тема", "Текст", None)
    assert raised.value.code == "550"
    assert "User unknown" in raised.value.message
    assert await letters_to(inspect, emulators, "nobody@example.invalid") == []


async def test_credentials_are_used_when_configured(
    inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await inspect.put(
        f"{emulators.config.mail_url}/_admin/smtp", json={"username": "lkk", "password": "s3cret"}
    )
    mail = mail_client(emulators, username="lkk", password="s3cret")

    # when
    await mail.ping()
    await mail.send("p@example.ru", "Тема", "Текст", None)

    # then
    assert len(await letters_to(inspect, emulators, "p@example.ru")) == 1
    assert smtp_calls(emulators)["SmtpAuth"] == 2


@pytest.mark.parametrize(
    ("username", "password", "code"), [("lkk", "wrong", "535"), ("", "", "530")], ids=str
)
async def test_missing_or_wrong_credentials_are_rejected(
    inspect: httpx.AsyncClient, emulators: EmulatorHost, username: str, password: str, code: str
) -> None:
    # given
    await inspect.put(
        f"{emulators.config.mail_url}/_admin/smtp", json={"username": "lkk", "password": "s3cret"}
    )
    mail = mail_client(emulators, username=username, password=password)

    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await mail.send("p@example.ru", "Тема", "Текст", None)
    assert raised.value.code == code


async def test_ping_greets_and_leaves(mail: MailClient, emulators: EmulatorHost) -> None:
    # when
    await mail.ping()

    # then
    assert smtp_calls(emulators) == {"SmtpConnect": 1}


async def test_a_mail_outage_is_unavailable_and_send_is_not_retried(
    mail: MailClient, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, "mail", outage=True)

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await mail.send("p@example.ru", "Тема", "Текст", None)
    assert type(raised.value) is UpstreamUnavailable
    assert "SMTP 421" in raised.value.message
    assert smtp_calls(emulators) == {"SmtpConnect": 1}


async def test_a_temporary_refusal_is_unavailable_and_nothing_is_kept(
    mail: MailClient, inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, "mail", error_rate=1)

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await mail.send("p@example.ru", "Тема", "Текст", None)
    assert "SMTP 451" in raised.value.message
    faults(emulators, "mail", error_rate=0)
    assert await letters_to(inspect, emulators, "p@example.ru") == []


async def test_a_late_greeting_is_a_timeout(mail: MailClient, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, "mail", latency_ms=TIMEOUT * 1000 + 300)

    # when / then
    with pytest.raises(UpstreamTimeout):
        await mail.ping()


async def test_a_late_answer_to_data_is_a_timeout_though_the_letter_arrived(
    mail: MailClient, inspect: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, "mail", slow_body_ms=TIMEOUT * 1000 + 500)

    # when / then: the outcome is unknown to the adapter; the sink kept the letter
    with pytest.raises(UpstreamTimeout):
        await mail.send("p@example.ru", "Тема", "Текст", None)
    assert smtp_calls(emulators) == {"SmtpConnect": 1, "SmtpMessage": 1}
    faults(emulators, "mail", slow_body_ms=0)
    assert len(await letters_to(inspect, emulators, "p@example.ru")) == 1


async def test_a_garbled_greeting_is_malformed(mail: MailClient, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, "mail", malformed=True)

    # when / then
    with pytest.raises(UpstreamMalformed):
        await mail.send("p@example.ru", "Тема", "Текст", None)


async def test_a_refused_smtp_connection_is_unavailable(emulators: EmulatorHost) -> None:
    # given
    mail = mail_client(emulators, port=free_port())

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await mail.ping()
    assert type(raised.value) is UpstreamUnavailable


async def test_the_breaker_opens_and_spares_the_relay(emulators: EmulatorHost) -> None:
    # given
    mail = mail_client(emulators, threshold=2)
    faults(emulators, "mail", outage=True)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await mail.send("p@example.ru", "Тема", "Текст", None)

    # when / then
    with pytest.raises(CircuitOpen):
        await mail.send("p@example.ru", "Тема", "Текст", None)
    assert smtp_calls(emulators) == {"SmtpConnect": 2}


def test_a_composed_letter_carries_date_message_id_and_both_versions() -> None:
    # given
    now = datetime(2026, 3, 1, 9, 5, 33, tzinfo=UTC)

    # when
    message = compose_letter(SENDER, "p@example.ru", "Тема", "Текст", HTML, now=now)

    # then
    assert message["Date"] == "Sun, 01 Mar 2026 09:05:33 +0000"
    assert message["Message-ID"].startswith("<")
    assert message["Message-ID"].endswith("@lkk.example.ru>")
    assert message["From"] == SENDER
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content() == "Текст\n"
    assert html.get_content() == HTML + "\n"


def test_each_composed_letter_has_its_own_message_id() -> None:
    # given
    now = datetime(2026, 3, 1, tzinfo=UTC)

    # when
    first = compose_letter(SENDER, "p@example.ru", "Т", "т", None, now=now)
    second = compose_letter(SENDER, "p@example.ru", "Т", "т", None, now=now)

    # then
    assert first["Message-ID"] != second["Message-ID"]
    assert first.get_content_type() == "text/plain"
