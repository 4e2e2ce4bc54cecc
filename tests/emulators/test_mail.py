"""The mail emulator over real sockets: SMTP in, JSON and pages out, faults on both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from emulators.base import UTILITY_TZ
from emulators.config import EmulatorConfig
from emulators.host import EmulatorHost

SENDER = "ЛКК <noreply@lkk.example.ru>"
TO = "Petrov@example.ru"
HTML = '<!doctype html><html lang="ru"><body><p>Код: <b>654321</b></p></body></html>'


# --- helpers shared with tests/adapters/test_notify.py ---------------------------------


def letter(
    to: str = TO,
    subject: str = "Подтверждение адреса электронной почты",
    text: str = "Здравствуйте!\n\nКод подтверждения: 654321\n",
    html: str | None = HTML,
) -> EmailMessage:
    """A letter as a mail client writes it: UTF-8, text and (optionally) HTML."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Sun, 01 Mar 2026 09:05:33 +0000"
    message["Message-ID"] = "<test-1@lkk.example.ru>"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def smtp_send(
    emulators: EmulatorHost, message: EmailMessage, **options: Any
) -> tuple[dict[str, Any], str]:
    """Send ``message`` to the emulator's SMTP port with aiosmtplib."""
    options.setdefault("timeout", 5)
    return await aiosmtplib.send(
        message,
        hostname=emulators.config.host,
        port=emulators.config.smtp_port,
        local_hostname="test.local",
        **options,
    )


def faults(emulators: EmulatorHost, **knobs: Any) -> None:
    """Make the mail emulator misbehave (SMTP and pages alike)."""
    emulators.runtimes["mail"].faults.update(knobs)


def smtp_calls(emulators: EmulatorHost) -> dict[str, int]:
    """The SMTP operations the emulator counted."""
    counts = emulators.runtimes["mail"].calls.snapshot()
    return {name: count for name, count in counts.items() if name.startswith("Smtp")}


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture
async def inbox(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the mail emulator's pages and JSON."""
    async with httpx.AsyncClient(base_url=emulators.config.mail_url, timeout=5) as client:
        yield client


async def listing(inbox: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    """``GET /mail/messages``."""
    answer = await inbox.get("/mail/messages", params=params)
    assert answer.status_code == 200
    letters: list[dict[str, Any]] = answer.json()
    return letters


# --- receiving -------------------------------------------------------------------------


async def test_a_letter_is_received_and_listed_decoded(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    moment = datetime(2026, 3, 1, 14, 5, 33, tzinfo=UTILITY_TZ)
    await inbox.put("/_admin/clock", json={"now": moment.isoformat()})

    # when
    refused, reply = await smtp_send(emulators, letter())

    # then
    assert refused == {}
    assert reply.startswith("2.0.0 Ok: queued as ")
    letters = await listing(inbox, to=TO)
    assert letters == [
        {
            "id": reply.rpartition(" ")[2],
            "message_id": "<test-1@lkk.example.ru>",
            "from": SENDER,
            "to": TO,
            "envelope_from": "noreply@lkk.example.ru",
            "recipients": [TO],
            "subject": "Подтверждение адреса электронной почты",
            "text": "Здравствуйте!\n\nКод подтверждения: 654321\n",
            "html": HTML + "\n",
            "date": "2026-03-01T09:05:33+00:00",
            "received_at": "2026-03-01T14:05:33+05:00",
        }
    ]


async def test_the_listing_matches_recipients_in_any_case_newest_first(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await smtp_send(emulators, letter(subject="первое"))
    await smtp_send(emulators, letter(to="other@example.ru", subject="другому"))
    await smtp_send(emulators, letter(subject="второе"))

    # when
    mine = await listing(inbox, to="petrov@EXAMPLE.ru")
    everything = await listing(inbox)

    # then
    assert [m["subject"] for m in mine] == ["второе", "первое"]
    assert [m["subject"] for m in everything] == ["второе", "другому", "первое"]
    assert await listing(inbox, to="nobody@example.ru") == []


async def test_a_letter_to_several_recipients_is_listed_for_each(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    await smtp_send(emulators, letter(to="a@example.ru, b@example.ru"))

    # then
    for address in ("a@example.ru", "b@example.ru"):
        [found] = await listing(inbox, to=address)
        assert found["recipients"] == ["a@example.ru", "b@example.ru"]


async def test_a_plain_text_letter_has_no_html(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    await smtp_send(emulators, letter(html=None))

    # then
    [found] = await listing(inbox)
    assert found["text"] == "Здравствуйте!\n\nКод подтверждения: 654321\n"
    assert found["html"] is None


async def test_a_mailbox_with_a_non_latin_name_is_accepted_over_smtputf8(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    await smtp_send(emulators, letter(to="мария@пример.рф"))

    # then
    [found] = await listing(inbox, to="мария@пример.рф")
    assert found["recipients"] == ["мария@пример.рф"]


async def test_a_recipient_in_the_invalid_domain_is_refused_with_550(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await smtp_send(emulators, letter(to="nobody@example.invalid"))

    # then
    [refusal] = raised.value.recipients
    assert refusal.code == 550
    assert refusal.message.startswith("5.1.1 <nobody@example.invalid>")
    assert await listing(inbox) == []


async def test_a_letter_is_kept_for_the_recipients_that_were_accepted(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    refused, _ = await smtp_send(emulators, letter(to="ok@example.ru, nobody@x.invalid"))

    # then
    assert list(refused) == ["nobody@x.invalid"]
    [found] = await listing(inbox)
    assert found["recipients"] == ["ok@example.ru"]


async def test_when_credentials_are_set_only_they_may_send(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    knobs = await inbox.put("/_admin/smtp", json={"username": "lkk", "password": "s3cret"})
    assert knobs.json() == {"username": "lkk", "password": "***"}

    # when
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as anonymous:
        await smtp_send(emulators, letter())
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
        await smtp_send(emulators, letter(), username="lkk", password="nope")
    await smtp_send(emulators, letter(), username="lkk", password="s3cret")

    # then
    assert anonymous.value.code == 530
    assert wrong.value.code == 535
    assert len(await listing(inbox)) == 1


async def test_without_credentials_set_any_login_is_accepted(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    await smtp_send(emulators, letter(), username="whoever", password="whatever")

    # then
    assert len(await listing(inbox)) == 1
    assert smtp_calls(emulators)["SmtpAuth"] == 1


@pytest.mark.parametrize("body", [{"username": "only"}, {"user": "x"}, {"password": 5}], ids=str)
async def test_the_smtp_admin_refuses_bad_knobs(inbox: httpx.AsyncClient, body: Any) -> None:
    # when
    answer = await inbox.put("/_admin/smtp", json=body)

    # then
    assert answer.status_code == 400
    assert (await inbox.get("/_admin/smtp")).json() == {"username": None, "password": None}


# --- letters by id, pages --------------------------------------------------------------


async def test_one_letter_its_source_and_its_sandboxed_html(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await smtp_send(emulators, letter())
    [found] = await listing(inbox)

    # when
    one = await inbox.get(f"/mail/messages/{found['id']}")
    raw = await inbox.get(f"/mail/messages/{found['id']}/raw")
    html = await inbox.get(f"/mail/messages/{found['id']}/html")

    # then
    assert one.json() == found
    assert raw.headers["content-type"].startswith("text/plain")
    assert "Content-Type: multipart/alternative" in raw.text
    assert "Message-ID: <test-1@lkk.example.ru>" in raw.text
    assert html.text == HTML + "\n"
    assert html.headers["content-security-policy"].startswith("sandbox;")
    assert "default-src 'none'" in html.headers["content-security-policy"]


async def test_an_unknown_letter_is_404(inbox: httpx.AsyncClient, emulators: EmulatorHost) -> None:
    # given
    await smtp_send(emulators, letter(html=None))
    [found] = await listing(inbox)

    # when
    answers = [
        await inbox.get("/mail/messages/nope"),
        await inbox.get("/mail/messages/nope/raw"),
        await inbox.get(f"/mail/messages/{found['id']}/html"),
        await inbox.get("/mail/inbox/nope"),
    ]

    # then
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert "Письмо не найдено" in answers[3].text


async def test_the_inbox_lists_letters_newest_first_in_russian(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await smtp_send(emulators, letter(subject="первое"))
    await smtp_send(emulators, letter(subject="второе <i>курсив</i>"))

    # when
    page = await inbox.get("/mail/inbox")

    # then
    assert page.status_code == 200
    text = page.text
    assert '<html lang="ru">' in text
    assert "Входящие письма" in text
    assert 'http-equiv="refresh"' in text
    assert "второе &lt;i&gt;курсив&lt;/i&gt;" in text
    assert "<i>курсив" not in text
    assert text.index("второе") < text.index("первое")
    assert "ЛКК &lt;noreply@lkk.example.ru&gt;" in text
    assert "<script" not in text


async def test_the_inbox_filters_by_recipient_and_says_when_it_is_empty(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await smtp_send(emulators, letter(subject="первое"))

    # when
    page = await inbox.get("/mail/inbox", params={"to": "other@example.ru"})

    # then
    assert "Писем пока нет." in page.text
    assert "первое" not in page.text


async def test_a_letter_page_shows_headers_text_and_frames_the_html(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await smtp_send(emulators, letter())
    [found] = await listing(inbox)

    # when
    page = await inbox.get(f"/mail/inbox/{found['id']}")

    # then
    assert page.status_code == 200
    text = page.text
    assert "<h1>Подтверждение адреса электронной почты</h1>" in text
    assert "Код подтверждения: 654321" in text
    assert "01.03.2026 14:05:33" in text  # the Date: header, in utility local time
    assert f'<iframe sandbox src="/mail/messages/{found["id"]}/html"' in text
    assert f'href="/mail/messages/{found["id"]}/raw"' in text
    assert "<b>654321</b>" not in text  # the letter's HTML is framed, never inlined


# --- faults ----------------------------------------------------------------------------


async def test_an_outage_greets_with_421_and_takes_the_pages_down(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, outage=True)

    # when
    with pytest.raises(aiosmtplib.SMTPConnectResponseError) as raised:
        await smtp_send(emulators, letter())
    page = await inbox.get("/mail/inbox")

    # then
    assert raised.value.code == 421
    assert page.status_code == 503
    assert smtp_calls(emulators) == {"SmtpConnect": 1}


async def test_latency_delays_the_greeting_past_a_short_timeout(emulators: EmulatorHost) -> None:
    # given
    faults(emulators, latency_ms=500)

    # when / then
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await smtp_send(emulators, letter(), timeout=0.1)


async def test_a_malformed_greeting_is_no_smtp_reply(emulators: EmulatorHost) -> None:
    # given
    faults(emulators, malformed=True)

    # when / then
    with pytest.raises(aiosmtplib.SMTPResponseException) as raised:
        await smtp_send(emulators, letter())
    assert raised.value.code == -1


async def test_the_error_fault_refuses_the_letter_with_451_and_keeps_nothing(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, error_rate=1)

    # when
    with pytest.raises(aiosmtplib.SMTPDataError) as raised:
        await smtp_send(emulators, letter())

    # then
    assert raised.value.code == 451
    faults(emulators, error_rate=0)
    assert await listing(inbox) == []


async def test_a_slow_answer_to_data_comes_after_the_letter_is_kept(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, slow_body_ms=1000)

    # when
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await smtp_send(emulators, letter(), timeout=0.2)

    # then: the client gave up, yet the letter was delivered
    faults(emulators, slow_body_ms=0)
    assert len(await listing(inbox)) == 1


# --- counting and state ----------------------------------------------------------------


async def test_each_operation_is_counted(inbox: httpx.AsyncClient, emulators: EmulatorHost) -> None:
    # given
    await smtp_send(emulators, letter())
    [found] = await listing(inbox)

    # when
    await inbox.get(f"/mail/messages/{found['id']}")
    await inbox.get(f"/mail/messages/{found['id']}/raw")
    await inbox.get(f"/mail/messages/{found['id']}/html")
    await inbox.get("/mail/inbox")
    await inbox.get(f"/mail/inbox/{found['id']}")

    # then
    assert emulators.runtimes["mail"].calls.snapshot() == {
        "SmtpConnect": 1,
        "SmtpMessage": 1,
        "ListMessages": 1,
        "GetMessage": 1,
        "GetRawMessage": 1,
        "GetMessageHtml": 1,
        "InboxPage": 1,
        "LetterPage": 1,
    }


async def test_reset_empties_the_inbox_and_drops_credentials(
    inbox: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await smtp_send(emulators, letter())
    await inbox.put("/_admin/smtp", json={"username": "lkk", "password": "s3cret"})

    # when
    await inbox.post("/_admin/reset")

    # then
    assert await listing(inbox) == []
    assert (await inbox.get("/_admin/smtp")).json() == {"username": None, "password": None}


async def test_letters_survive_a_restart(tmp_path: Path) -> None:
    # given
    config = EmulatorConfig(mail_http_port=0, smtp_port=0, data_dir=tmp_path)
    first = EmulatorHost(config, systems=("mail",))
    first.start_in_thread()
    try:
        await smtp_send(first, letter(subject="до перезапуска"))
    finally:
        await asyncio.to_thread(first.stop_thread)

    # when
    second = EmulatorHost(config, systems=("mail",))
    second.start_in_thread()
    try:
        async with httpx.AsyncClient(base_url=second.config.mail_url) as client:
            letters = (await client.get("/mail/messages")).json()
        await smtp_send(second, letter(subject="после"))
        async with httpx.AsyncClient(base_url=second.config.mail_url) as client:
            after = (await client.get("/mail/messages")).json()
    finally:
        await asyncio.to_thread(second.stop_thread)

    # then
    assert [m["subject"] for m in letters] == ["до перезапуска"]
    assert [m["subject"] for m in after] == ["после", "до перезапуска"]
