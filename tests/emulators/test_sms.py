"""The SMS gateway emulator over real sockets: its API quirks, outbox, knobs and state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.base import UTILITY_TZ
from emulators.config import EmulatorConfig
from emulators.host import EmulatorHost
from emulators.sms.segments import count_parts

PHONE = "79123456789"
CODE_TEXT = "Код подтверждения для личного кабинета: 123456. Никому не сообщайте его."


@pytest.fixture
async def sms(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the SMS emulator."""
    async with httpx.AsyncClient(base_url=emulators.config.sms_url, timeout=5) as client:
        yield client


def key_of(emulators: EmulatorHost) -> dict[str, str]:
    """The API key header the emulator accepts."""
    return {"X-Api-Key": emulators.config.sms_api_key}


async def send(sms: httpx.AsyncClient, emulators: EmulatorHost, **changes: Any) -> dict[str, Any]:
    """``POST /sms/send`` with a valid request changed by ``changes``; the decoded answer
    (asserting the quirk: HTTP 200 whatever the outcome)."""
    body: dict[str, Any] = {"to": PHONE, "text": CODE_TEXT, "sender": "LKK"}
    body.update(changes)
    answer = await sms.post("/sms/send", json=body, headers=key_of(emulators))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def listing(sms: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    """``GET /sms/messages``."""
    answer = await sms.get("/sms/messages", params=params)
    assert answer.status_code == 200
    messages: list[dict[str, Any]] = answer.json()
    return messages


async def balance(sms: httpx.AsyncClient, emulators: EmulatorHost) -> Any:
    """The balance as the API reports it."""
    return (await sms.get("/sms/balance", headers=key_of(emulators))).json()["balance"]


# --- sending ---------------------------------------------------------------------------


async def test_a_message_is_accepted_with_an_id_parts_cost_and_balance(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    answer = await send(sms, emulators)

    # then
    assert answer == {
        "status": "OK",
        "id": answer["id"],
        "parts": 2,
        "cost": 5.0,
        "balance": 4995.0,
    }
    assert isinstance(answer["id"], str)
    assert answer["id"]


async def test_a_sent_message_is_listed_with_its_fields(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    moment = datetime(2026, 3, 1, 14, 5, 33, tzinfo=UTILITY_TZ)
    await sms.put("/_admin/clock", json={"now": moment.isoformat()})
    sent = await send(sms, emulators)

    # when
    messages = await listing(sms, phone=PHONE)

    # then
    assert messages == [
        {
            "id": sent["id"],
            "phone": PHONE,
            "sender": "LKK",
            "text": CODE_TEXT,
            "parts": 2,
            "sent_at": "2026-03-01T14:05:33+05:00",
        }
    ]


async def test_the_listing_is_newest_first_and_filters_by_phone_in_any_spelling(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    first = await send(sms, emulators, text="первое")
    other = await send(sms, emulators, to="79000000000", text="другому")
    second = await send(sms, emulators, text="второе")

    # when
    mine = await listing(sms, phone="+7 (912) 345-67-89")
    eights = await listing(sms, phone="89123456789")
    everything = await listing(sms)

    # then
    assert [m["id"] for m in mine] == [second["id"], first["id"]]
    assert eights == mine
    assert [m["id"] for m in everything] == [second["id"], other["id"], first["id"]]
    assert await listing(sms, phone="79999999999") == []


async def test_the_api_key_may_come_in_the_body(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    answer = await sms.post(
        "/sms/send",
        json={"api_key": emulators.config.sms_api_key, "to": PHONE, "text": "ok"},
    )

    # then
    assert answer.status_code == 200
    assert answer.json()["status"] == "OK"
    assert (await listing(sms))[0]["sender"] == "SMS-INFO"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"to": "89123456789"}, "INVALID_PHONE"),
        ({"to": "+79123456789"}, "INVALID_PHONE"),
        ({"to": "7912345678"}, "INVALID_PHONE"),
        ({"to": 79123456789}, "INVALID_PHONE"),
        ({"to": None}, "INVALID_PHONE"),
        ({"text": ""}, "EMPTY_TEXT"),
        ({"text": "   \n"}, "EMPTY_TEXT"),
        ({"text": None}, "EMPTY_TEXT"),
        ({"text": "ж" * (67 * 8 + 1)}, "TEXT_TOO_LONG"),
        ({"sender": "ЛКК"}, "INVALID_SENDER"),
        ({"sender": "TOO-LONG-NAME"}, "INVALID_SENDER"),
        ({"api_key": "wrong"}, "INVALID_API_KEY"),
    ],
    ids=str,
)
async def test_a_refusal_is_http_200_with_a_code_and_a_russian_message(
    sms: httpx.AsyncClient, emulators: EmulatorHost, changes: dict[str, Any], code: str
) -> None:
    # when
    answer = await send(sms, emulators, **changes)

    # then
    assert answer["status"] == "ERROR"
    assert answer["code"] == code
    assert any("а" <= ch <= "я" for ch in answer["message"].lower())
    assert "id" not in answer


async def test_a_refused_message_is_neither_kept_nor_charged(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    await send(sms, emulators, to="123")

    # then
    assert await listing(sms) == []
    assert await balance(sms, emulators) == 5000.0


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}], ids=["none", "wrong"])
async def test_a_send_without_the_right_key_is_refused(
    sms: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    # when
    answer = await sms.post("/sms/send", json={"to": PHONE, "text": "x"}, headers=headers)

    # then
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ERROR",
        "code": "INVALID_API_KEY",
        "message": "Неверный API-ключ",
    }


@pytest.mark.parametrize("content", [b"to=79123456789", b"[1, 2]", b"\xff"], ids=str)
async def test_a_body_that_is_no_json_object_is_refused(
    sms: httpx.AsyncClient, emulators: EmulatorHost, content: bytes
) -> None:
    # when
    answer = await sms.post("/sms/send", content=content, headers=key_of(emulators))

    # then
    assert answer.status_code == 200
    assert answer.json()["code"] == "INVALID_REQUEST"


async def test_a_message_the_balance_does_not_cover_is_refused_and_not_charged(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given: enough for one part, not for two
    await sms.put("/_admin/sms", json={"balance": "3.00"})

    # when
    refused = await send(sms, emulators)
    accepted = await send(sms, emulators, text="Код: 123456")

    # then
    assert refused["code"] == "INSUFFICIENT_BALANCE"
    assert refused["message"] == "Недостаточно средств на балансе"
    assert accepted["status"] == "OK"
    assert accepted["balance"] == 0.5
    assert [m["text"] for m in await listing(sms)] == ["Код: 123456"]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 153 * 2, 2),
        ("a" * (153 * 2 + 1), 3),
        ("{" * 80, 1),
        ("{" * 81, 2),
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 67 * 2, 2),
        ("ж" * (67 * 2 + 1), 3),
        ("a" * 159 + "ж", 3),
        ("", 0),
    ],
    ids=lambda value: str(value)[:12],
)
def test_parts_are_counted_as_operators_count_them(text: str, parts: int) -> None:
    # when / then
    assert count_parts(text) == parts


# --- balance ---------------------------------------------------------------------------


async def test_the_balance_is_a_float_and_needs_the_key(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await send(sms, emulators, text="Код: 123456")

    # when
    by_header = await sms.get("/sms/balance", headers=key_of(emulators))
    by_query = await sms.get("/sms/balance", params={"api_key": emulators.config.sms_api_key})
    without = await sms.get("/sms/balance")

    # then
    assert by_header.json() == {"status": "OK", "balance": 4997.5, "currency": "RUB"}
    assert by_query.json() == by_header.json()
    assert without.status_code == 200
    assert without.json()["code"] == "INVALID_API_KEY"


async def test_the_admin_api_sets_balance_and_price(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    changed = await sms.put("/_admin/sms", json={"balance": 10, "price": "1.25"})

    # when
    answer = await send(sms, emulators, text="Код: 123456")

    # then
    assert changed.json() == {"balance": "10.00", "price": "1.25"}
    assert answer["balance"] == 8.75
    assert (await sms.delete("/_admin/sms")).json() == {"balance": "5000.00", "price": "2.50"}


@pytest.mark.parametrize(
    "body", [{"balance": -1}, {"price": "abc"}, {"balance": True}, {"fee": 1}, [1]], ids=str
)
async def test_the_admin_api_refuses_bad_values(sms: httpx.AsyncClient, body: Any) -> None:
    # when
    answer = await sms.put("/_admin/sms", json=body)

    # then
    assert answer.status_code == 400
    assert (await sms.get("/_admin/sms")).json() == {"balance": "5000.00", "price": "2.50"}


# --- the outbox page -------------------------------------------------------------------


async def test_the_outbox_shows_messages_newest_first_in_russian(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await send(sms, emulators, text="первое")
    await send(sms, emulators, text="второе <b>жирное</b>")

    # when
    page = await sms.get("/sms/outbox")

    # then
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert '<html lang="ru">' in text
    assert "Исходящие SMS" in text
    assert "+7 912 345-67-89" in text
    assert "баланс 4\u00a0995,00\u00a0₽" in text
    assert 'http-equiv="refresh"' in text
    assert "второе &lt;b&gt;жирное&lt;/b&gt;" in text
    assert "<b>жирное" not in text
    assert text.index("второе") < text.index("первое")
    assert "<script" not in text


async def test_the_outbox_filters_by_phone_and_says_when_it_is_empty(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await send(sms, emulators, text="первое")

    # when
    other = await sms.get("/sms/outbox", params={"phone": "79000000000"})
    empty = await sms.get("/sms/outbox", params={"phone": "<x>"})

    # then
    assert "Сообщений пока нет." in other.text
    assert "первое" not in other.text
    assert "&lt;x&gt;" in empty.text


# --- faults, counting, state -----------------------------------------------------------


async def test_the_internal_error_fault_is_still_http_200(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    emulators.runtimes["sms"].faults.update({"error_rate": 1})

    # when
    answer = await sms.post("/sms/send", json={"to": PHONE, "text": "x"}, headers=key_of(emulators))

    # then
    assert answer.status_code == 200
    assert answer.json()["code"] == "INTERNAL_ERROR"


async def test_an_outage_is_the_proxy_503(sms: httpx.AsyncClient, emulators: EmulatorHost) -> None:
    # given
    emulators.runtimes["sms"].faults.update({"outage": True})

    # when
    answer = await sms.post("/sms/send", json={"to": PHONE, "text": "x"}, headers=key_of(emulators))

    # then
    assert answer.status_code == 503
    assert "nginx" in answer.text


async def test_each_operation_is_counted(sms: httpx.AsyncClient, emulators: EmulatorHost) -> None:
    # when
    await send(sms, emulators)
    await send(sms, emulators, to="1")
    await sms.get("/sms/balance", headers=key_of(emulators))
    await listing(sms)
    await sms.get("/sms/outbox")

    # then
    assert emulators.runtimes["sms"].calls.snapshot() == {
        "SendSms": 2,
        "GetBalance": 1,
        "ListMessages": 1,
        "OutboxPage": 1,
    }


async def test_reset_empties_the_outbox_and_restores_the_balance(
    sms: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await send(sms, emulators)
    await sms.put("/_admin/sms", json={"price": "9"})

    # when
    await sms.post("/_admin/reset")

    # then
    assert await listing(sms) == []
    assert (await sms.get("/_admin/sms")).json() == {"balance": "5000.00", "price": "2.50"}


def test_messages_and_balance_survive_a_restart(tmp_path: Path) -> None:
    # given
    config = EmulatorConfig(sms_port=0, data_dir=tmp_path)
    first = EmulatorHost(config, systems=("sms",))
    first.start_in_thread()
    try:
        answer = httpx.post(
            f"{first.config.sms_url}/sms/send",
            json={"to": PHONE, "text": "до перезапуска"},
            headers={"X-Api-Key": config.sms_api_key},
        ).json()
    finally:
        first.stop_thread()

    # when
    second = EmulatorHost(config, systems=("sms",))
    second.start_in_thread()
    try:
        messages = httpx.get(f"{second.config.sms_url}/sms/messages").json()
        left = httpx.get(
            f"{second.config.sms_url}/sms/balance", headers={"X-Api-Key": config.sms_api_key}
        ).json()
    finally:
        second.stop_thread()

    # then
    assert [(m["id"], m["text"]) for m in messages] == [(answer["id"], "до перезапуска")]
    assert left["balance"] == 4997.5
