"""The acquirer emulator over real sockets: its REST API, pages, webhooks and knobs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.config import EmulatorConfig
from emulators.host import EmulatorHost

RETURN_URL = "https://lk.example.ru/payments/return"
SUCCEEDS = "5555 5555 5555 4477"
NEEDS_3DS = "5555 5555 5555 4444"
DECLINED = "4111 1111 1111 1111"
TIMES_OUT = "4000 0000 0000 0408"


# --- helpers shared with tests/adapters/test_acquirer.py -------------------------------


async def eventually(check: Callable[[], Any], within: float = 5.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


@dataclass
class Received:
    """One notification the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A tiny shop endpoint under uvicorn: records what it gets, answers given statuses."""

    answers: list[int] = field(default_factory=list)
    """Statuses to answer, in order; 200 once they run out."""
    always: int | None = None
    """Answer this status to every request (overrides ``answers``)."""
    received: list[Received] = field(default_factory=list)
    url: str = ""

    async def _hook(self, request: Request) -> Response:
        self.received.append(Received(dict(request.headers), await request.body()))
        if self.always is not None:
            return Response(status_code=self.always)
        return Response(status_code=self.answers.pop(0) if self.answers else 200)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WebhookReceiver]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        )
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await eventually(lambda: server.started or task.done())
            yield self
        finally:
            server.should_exit = True
            await task
            sock.close()


def shop_auth(emulators: EmulatorHost) -> tuple[str, str]:
    """The shop's credentials the emulator accepts."""
    return emulators.config.acquirer_shop_id, emulators.config.acquirer_secret_key


def payment_request(**changes: Any) -> dict[str, Any]:
    """A valid ``POST /v3/payments`` body, with ``changes`` applied."""
    body: dict[str, Any] = {
        "amount": {"value": "1234.50", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": RETURN_URL},
        "description": "Оплата ЛС 7200000001, группа 1",
        "metadata": {"account": "7200000001", "group": "1"},
    }
    body.update(changes)
    return body


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture
async def api(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """A shop's HTTP client of the acquirer (credentials set, redirects not followed)."""
    async with httpx.AsyncClient(
        base_url=emulators.config.acquirer_url, auth=shop_auth(emulators), timeout=5
    ) as client:
        # hermetic: no notification leaves for the configured URL unless a test asks
        await client.put("/_admin/webhooks", json={"enabled": False})
        yield client


@pytest.fixture
async def receiver(api: httpx.AsyncClient) -> AsyncIterator[WebhookReceiver]:
    """A running shop endpoint, set as the acquirer's notification target, fast retries."""
    async with WebhookReceiver().running() as running:
        answer = await api.put(
            "/_admin/webhooks",
            json={"url": running.url, "retry_delays_ms": [20, 20], "enabled": True},
        )
        assert answer.status_code == 200
        yield running


async def create(api: httpx.AsyncClient, key: str = "key-1", **changes: Any) -> dict[str, Any]:
    """Create a payment; return its JSON."""
    answer = await api.post(
        "/v3/payments", json=payment_request(**changes), headers={"Idempotence-Key": key}
    )
    assert answer.status_code == 200, answer.text
    payment: dict[str, Any] = answer.json()
    return payment


async def get(api: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    """Read a payment's JSON."""
    answer = await api.get(f"/v3/payments/{payment_id}")
    assert answer.status_code == 200, answer.text
    payment: dict[str, Any] = answer.json()
    return payment


async def pay(
    api: httpx.AsyncClient, payment_id: str, card: str, expiry: str = "12/35", cvc: str = "123"
) -> httpx.Response:
    """Post the card form of the hosted page."""
    return await api.post(
        f"/checkout/{payment_id}", data={"card_number": card, "expiry": expiry, "cvc": cvc}
    )


def assert_error(answer: httpx.Response, status: int, code: str, parameter: str | None) -> None:
    """The answer is the acquirer's error shape with this status, code and parameter."""
    assert answer.status_code == status
    body = answer.json()
    assert body["type"] == "error"
    assert body["code"] == code
    assert body.get("parameter") == parameter
    assert body["id"]
    assert body["description"]


# --- the REST API ----------------------------------------------------------------------


async def test_a_new_payment_is_pending_with_a_link_to_the_card_page(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    payment = await create(api, amount={"value": "100", "currency": "RUB"}, metadata={"n": 7})

    # then
    assert payment["status"] == "pending"
    assert payment["paid"] is False
    assert payment["amount"] == {"value": "100.00", "currency": "RUB"}
    assert payment["confirmation"] == {
        "type": "redirect",
        "confirmation_url": f"{emulators.config.acquirer_url}/checkout/{payment['id']}",
    }
    assert payment["description"] == "Оплата ЛС 7200000001, группа 1"
    assert payment["metadata"] == {"n": "7"}
    assert payment["test"] is True
    assert payment["created_at"].endswith("Z")
    assert len(payment["created_at"]) == len("2025-03-01T09:15:02.113Z")
    assert "payment_method" not in payment
    assert "cancellation_details" not in payment


async def test_the_same_key_and_body_give_the_first_answer_and_one_payment(
    api: httpx.AsyncClient,
) -> None:
    # given
    first = await create(api, key="same")

    # when
    second = await create(api, key="same")

    # then
    assert second == first
    listing = (await api.get("/_admin/payments")).json()
    assert [item["payment"]["id"] for item in listing] == [first["id"]]


async def test_a_repeated_key_answers_the_first_snapshot_even_after_payment(
    api: httpx.AsyncClient,
) -> None:
    # given
    first = await create(api, key="same")
    await pay(api, first["id"], SUCCEEDS)

    # when
    replay = await create(api, key="same")

    # then
    assert replay["status"] == "pending"
    assert (await get(api, first["id"]))["status"] == "succeeded"


async def test_the_same_key_with_another_body_is_refused(api: httpx.AsyncClient) -> None:
    # given
    await create(api, key="same")

    # when
    answer = await api.post(
        "/v3/payments",
        json=payment_request(amount={"value": "1.00", "currency": "RUB"}),
        headers={"Idempotence-Key": "same"},
    )

    # then
    assert_error(answer, 400, "invalid_request", "Idempotence-Key")


async def test_an_idempotence_key_is_forgotten_after_24_hours(api: httpx.AsyncClient) -> None:
    # given
    first = await create(api, key="old")
    await api.put("/_admin/clock", json={"offset_seconds": 25 * 3600})

    # when
    second = await create(api, key="old")

    # then
    assert second["id"] != first["id"]


async def test_a_payment_without_an_idempotence_key_is_refused(api: httpx.AsyncClient) -> None:
    # when
    answer = await api.post("/v3/payments", json=payment_request())

    # then
    assert_error(answer, 400, "invalid_request", "Idempotence-Key")


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"amount": {"value": "0.00", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "-5", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "10.005", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "10,50", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "10.00", "currency": "USD"}}, "amount.currency"),
        ({"amount": None}, "amount"),
        ({"capture": False}, "capture"),
        ({"confirmation": {"type": "embedded"}}, "confirmation.type"),
        ({"confirmation": {"type": "redirect", "return_url": "lk"}}, "confirmation.return_url"),
        ({"description": "д" * 129}, "description"),
        ({"metadata": {"nested": {"a": 1}}}, "metadata.nested"),
    ],
)
async def test_an_invalid_payment_request_is_refused_naming_the_parameter(
    api: httpx.AsyncClient, changes: dict[str, Any], parameter: str
) -> None:
    # when
    answer = await api.post(
        "/v3/payments", json=payment_request(**changes), headers={"Idempotence-Key": "k"}
    )

    # then
    assert_error(answer, 400, "invalid_request", parameter)


async def test_a_body_that_is_not_json_is_refused(api: httpx.AsyncClient) -> None:
    # when
    answer = await api.post("/v3/payments", content=b"amount=5", headers={"Idempotence-Key": "k"})

    # then
    assert_error(answer, 400, "invalid_request", None)


@pytest.mark.parametrize(
    "auth", [None, ("100500", "wrong"), ("other-shop", "test_shop_secret")], ids=str
)
async def test_wrong_shop_credentials_are_refused_with_401(
    emulators: EmulatorHost, auth: tuple[str, str] | None
) -> None:
    # given
    async with httpx.AsyncClient(base_url=emulators.config.acquirer_url, auth=auth) as client:
        # when
        answers = [
            await client.post(
                "/v3/payments", json=payment_request(), headers={"Idempotence-Key": "k"}
            ),
            await client.get("/v3/payments/3f1c0d3e-0000-4000-8000-000000000000"),
            await client.get("/v3/me"),
        ]

    # then
    for answer in answers:
        assert_error(answer, 401, "invalid_credentials", "Authorization")


async def test_an_unknown_payment_is_404(api: httpx.AsyncClient) -> None:
    # when
    answer = await api.get("/v3/payments/3f1c0d3e-0000-4000-8000-000000000000")

    # then
    assert_error(answer, 404, "not_found", "payment_id")


async def test_me_describes_the_test_shop(api: httpx.AsyncClient) -> None:
    # when
    answer = await api.get("/v3/me")

    # then
    assert answer.status_code == 200
    assert answer.json() == {
        "account_id": "100500",
        "test": True,
        "status": "enabled",
        "fiscalization_enabled": False,
        "payment_methods": ["bank_card"],
    }


async def test_each_operation_is_counted(api: httpx.AsyncClient, emulators: EmulatorHost) -> None:
    # given
    payment = await create(api)

    # when
    await get(api, payment["id"])
    await api.get("/v3/me")
    await api.get(f"/checkout/{payment['id']}")
    await pay(api, payment["id"], NEEDS_3DS)
    await api.get(f"/3ds/{payment['id']}")
    await api.post(f"/3ds/{payment['id']}", data={"code": "123456"})

    # then
    assert emulators.runtimes["acquirer"].calls.snapshot() == {
        "CreatePayment": 1,
        "GetPayment": 1,
        "GetMe": 1,
        "CheckoutPage": 1,
        "CheckoutSubmit": 1,
        "ThreeDsPage": 1,
        "ThreeDsSubmit": 1,
    }


# --- the hosted pages ------------------------------------------------------------------


async def test_the_card_page_shows_amount_description_and_test_cards_in_russian(
    api: httpx.AsyncClient,
) -> None:
    # given
    payment = await create(api)

    # when
    page = await api.get(f"/checkout/{payment['id']}")

    # then
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "Оплата банковской картой" in text
    assert "1\u00a0234,50\u00a0₽" in text
    assert "Оплатить 1\u00a0234,50\u00a0₽" in text
    assert "Оплата ЛС 7200000001, группа 1" in text
    for number in (SUCCEEDS, NEEDS_3DS, DECLINED, TIMES_OUT):
        assert number in text
    assert "123456" in text
    assert "<script" not in text
    assert "http" not in text.replace(RETURN_URL, "")


async def test_an_unknown_payment_page_is_404_in_russian(api: httpx.AsyncClient) -> None:
    # when
    page = await api.get("/checkout/nope")

    # then
    assert page.status_code == 404
    assert "Платёж не найден" in page.text


async def test_the_success_card_pays_without_3ds_and_returns_the_customer(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    payment = await create(api)

    # when
    answer = await pay(api, payment["id"], SUCCEEDS)

    # then
    assert answer.status_code == 303
    assert answer.headers["location"] == RETURN_URL
    paid = await get(api, payment["id"])
    assert paid["status"] == "succeeded"
    assert paid["paid"] is True
    assert paid["payment_method"]["card"] == {
        "first6": "555555",
        "last4": "4477",
        "card_type": "MasterCard",
    }
    assert paid["authorization_details"]["three_d_secure"] == {"applied": False}
    assert paid["captured_at"].endswith("Z")
    assert paid["income_amount"] == {"value": "1191.29", "currency": "RUB"}
    assert "confirmation" not in paid


async def test_the_full_card_number_is_never_kept(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    stored = emulators.runtimes["acquirer"].db.query("SELECT * FROM acquirer_payments")
    assert "5555555555554477" not in json.dumps([dict(row) for row in stored])
    assert "5555555555554477" not in json.dumps(await get(api, payment["id"]))


async def test_the_3ds_card_goes_through_the_issuer_page_and_returns_the_customer(
    api: httpx.AsyncClient,
) -> None:
    # given
    payment = await create(api)

    # when
    to_bank = await pay(api, payment["id"], NEEDS_3DS)
    bank_page = await api.get(to_bank.headers["location"])
    back = await api.post(to_bank.headers["location"], data={"code": "123456"})

    # then
    assert to_bank.status_code == 303
    assert to_bank.headers["location"] == f"/3ds/{payment['id']}"
    assert "Подтверждение покупки" in bank_page.text
    assert "555555******4444" in bank_page.text
    assert "123456" in bank_page.text
    assert back.status_code == 303
    assert back.headers["location"] == RETURN_URL
    paid = await get(api, payment["id"])
    assert paid["status"] == "succeeded"
    assert paid["authorization_details"]["three_d_secure"] == {"applied": True}


async def test_the_card_page_sends_a_payment_waiting_for_3ds_to_the_issuer(
    api: httpx.AsyncClient,
) -> None:
    # given
    payment = await create(api)
    await pay(api, payment["id"], NEEDS_3DS)

    # when
    page = await api.get(f"/checkout/{payment['id']}")

    # then
    assert page.status_code == 303
    assert page.headers["location"] == f"/3ds/{payment['id']}"
    assert (await get(api, payment["id"]))["status"] == "pending"


@pytest.mark.parametrize("form", [{"code": "000000"}, {"code": "", "action": "cancel"}])
async def test_a_wrong_or_refused_3ds_code_cancels_the_payment(
    api: httpx.AsyncClient, form: dict[str, str]
) -> None:
    # given
    payment = await create(api)
    await pay(api, payment["id"], NEEDS_3DS)

    # when
    back = await api.post(f"/3ds/{payment['id']}", data=form)

    # then
    assert back.status_code == 303
    assert back.headers["location"] == RETURN_URL
    canceled = await get(api, payment["id"])
    assert canceled["status"] == "canceled"
    assert canceled["paid"] is False
    assert canceled["cancellation_details"] == {
        "party": "payment_network",
        "reason": "3d_secure_failed",
    }


async def test_the_declined_card_cancels_for_insufficient_funds(api: httpx.AsyncClient) -> None:
    # given
    payment = await create(api)

    # when
    back = await pay(api, payment["id"], DECLINED)

    # then
    assert back.status_code == 303
    assert back.headers["location"] == RETURN_URL
    canceled = await get(api, payment["id"])
    assert canceled["status"] == "canceled"
    assert canceled["cancellation_details"] == {
        "party": "payment_network",
        "reason": "insufficient_funds",
    }
    assert canceled["payment_method"]["card"]["last4"] == "1111"
    assert canceled["payment_method"]["card"]["card_type"] == "Visa"


async def test_the_time_out_card_stays_pending_then_expires(api: httpx.AsyncClient) -> None:
    # given
    await api.put("/_admin/processing", json={"processing_timeout_seconds": 0.3})
    payment = await create(api)

    # when
    back = await pay(api, payment["id"], TIMES_OUT)

    # then
    assert back.status_code == 303
    assert (await get(api, payment["id"]))["status"] == "pending"
    waiting = await api.get(f"/checkout/{payment['id']}")
    assert "Ожидаем ответа банка" in waiting.text

    async def canceled() -> dict[str, Any] | None:
        now = await get(api, payment["id"])
        return now if now["status"] == "canceled" else None

    expired = await eventually(canceled)
    assert expired["cancellation_details"] == {
        "party": "yoo_money",
        "reason": "expired_on_confirmation",
    }


async def test_an_unpaid_payment_expires_when_its_time_to_pay_is_over(
    api: httpx.AsyncClient,
) -> None:
    # given
    payment = await create(api)

    # when
    await api.put("/_admin/clock", json={"offset_seconds": 3601})

    # then
    expired = await get(api, payment["id"])
    assert expired["status"] == "canceled"
    assert expired["cancellation_details"]["reason"] == "expired_on_confirmation"
    page = await api.get(f"/checkout/{payment['id']}")
    assert "Платёж отменён" in page.text
    assert "истекло время на оплату" in page.text


@pytest.mark.parametrize(
    ("card", "expiry", "cvc", "message"),
    [
        ("5555 5555 5555 4478", "12/35", "123", "Неверный номер карты"),
        ("", "12/35", "123", "Введите номер карты"),
        (SUCCEEDS, "01/20", "123", "Срок действия карты истёк"),
        (SUCCEEDS, "13/35", "123", "Неверный месяц"),
        (SUCCEEDS, "1235", "12", "CVC — три цифры"),
        (SUCCEEDS, "soon", "123", "ММ/ГГ"),
        ("2200 0000 0000 0004", "12/35", "123", "только тестовой картой"),
    ],
)
async def test_a_wrongly_filled_card_form_shows_why_and_changes_nothing(
    api: httpx.AsyncClient, card: str, expiry: str, cvc: str, message: str
) -> None:
    # given
    payment = await create(api)

    # when
    page = await pay(api, payment["id"], card, expiry, cvc)

    # then
    assert page.status_code == 200
    assert message in page.text
    assert 'role="alert"' in page.text
    still = await get(api, payment["id"])
    assert still["status"] == "pending"
    assert "payment_method" not in still


async def test_a_paid_payment_page_says_so_and_takes_no_second_card(
    api: httpx.AsyncClient,
) -> None:
    # given
    payment = await create(api)
    await pay(api, payment["id"], SUCCEEDS)

    # when
    again = await pay(api, payment["id"], DECLINED)

    # then
    assert again.status_code == 200
    assert "Платёж выполнен" in again.text
    assert (await get(api, payment["id"]))["status"] == "succeeded"


# --- admin helpers ---------------------------------------------------------------------


async def test_admin_complete_pays_through_3ds_without_a_browser(api: httpx.AsyncClient) -> None:
    # given
    payment = await create(api)

    # when
    answer = await api.post(
        f"/_admin/payments/{payment['id']}/complete",
        json={"card": NEEDS_3DS, "code": "123456"},
    )

    # then
    assert answer.status_code == 200
    assert answer.json()["next"] == "return"
    assert answer.json()["payment"]["status"] == "succeeded"
    assert answer.json()["return_url"] == RETURN_URL


async def test_admin_complete_stops_at_3ds_without_a_code(api: httpx.AsyncClient) -> None:
    # given
    payment = await create(api)

    # when
    first = await api.post(f"/_admin/payments/{payment['id']}/complete", json={"card": NEEDS_3DS})
    second = await api.post(f"/_admin/payments/{payment['id']}/complete", json={"code": "1"})

    # then
    assert first.json()["next"] == "3ds"
    assert first.json()["payment"]["status"] == "pending"
    assert second.json()["payment"]["cancellation_details"]["reason"] == "3d_secure_failed"


async def test_admin_complete_refuses_a_bad_card_with_the_page_message(
    api: httpx.AsyncClient,
) -> None:
    # given
    payment = await create(api)

    # when
    answer = await api.post(
        f"/_admin/payments/{payment['id']}/complete", json={"card": "1234 5678"}
    )

    # then
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "Неверный номер карты. Проверьте цифры",
        "field": "card_number",
    }


async def test_admin_complete_of_a_finished_payment_is_a_conflict(
    api: httpx.AsyncClient,
) -> None:
    # given
    payment = await create(api)
    await pay(api, payment["id"], SUCCEEDS)

    # when
    answer = await api.post(f"/_admin/payments/{payment['id']}/complete", json={"card": SUCCEEDS})

    # then
    assert answer.status_code == 409
    assert answer.json()["payment"]["status"] == "succeeded"


@pytest.mark.parametrize(
    ("path", "knobs"),
    [
        ("/_admin/webhooks", {"nonsense": 1}),
        ("/_admin/webhooks", {"duplicate": "yes"}),
        ("/_admin/webhooks", {"retry_delays_ms": [-1]}),
        ("/_admin/processing", {"processing_timeout_seconds": "soon"}),
    ],
)
async def test_admin_knobs_refuse_unknown_names_and_bad_values(
    api: httpx.AsyncClient, path: str, knobs: dict[str, Any]
) -> None:
    # when
    answer = await api.put(path, json=knobs)

    # then
    assert answer.status_code == 400
    assert answer.json()["error"]


# --- faults ----------------------------------------------------------------------------


async def test_an_internal_error_is_500_in_the_acquirer_error_shape(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    emulators.runtimes["acquirer"].faults.update({"error_rate": 1})

    # when
    answer = await api.get("/v3/me")

    # then
    assert_error(answer, 500, "internal_server_error", None)


async def test_an_outage_answers_the_front_proxy_503_but_admin_still_works(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    emulators.runtimes["acquirer"].faults.update({"outage": True})

    # when
    answer = await api.get("/v3/me")
    admin = await api.get("/_admin/webhooks")

    # then
    assert answer.status_code == 503
    assert "nginx" in answer.text
    assert admin.status_code == 200


async def test_a_malformed_answer_is_not_json(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    emulators.runtimes["acquirer"].faults.update({"malformed": True})

    # when
    answer = await api.get("/v3/me")

    # then
    assert answer.status_code == 200
    with pytest.raises(ValueError, match=r".+"):
        answer.json()


# --- webhooks --------------------------------------------------------------------------


def check_signature(received: Received, secret: str) -> int:
    """Verify the documented scheme by hand; return the signature's timestamp."""
    parts = dict(part.split("=", 1) for part in received.headers["x-acquirer-signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    return int(parts["t"])


async def test_a_status_change_is_notified_signed(
    api: httpx.AsyncClient, emulators: EmulatorHost, receiver: WebhookReceiver
) -> None:
    # given
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    await eventually(lambda: receiver.received)
    (notification,) = receiver.received
    assert notification.json["type"] == "notification"
    assert notification.json["event"] == "payment.succeeded"
    assert notification.json["object"] == await get(api, payment["id"])
    assert notification.headers["content-type"] == "application/json; charset=utf-8"
    assert notification.headers["x-acquirer-attempt"] == "1"
    signed_at = check_signature(notification, emulators.config.webhook_secret)
    assert abs(datetime.now(UTC).timestamp() - signed_at) < 60


async def test_a_cancellation_is_notified(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    # given
    payment = await create(api)

    # when
    await pay(api, payment["id"], DECLINED)

    # then
    await eventually(lambda: receiver.received)
    assert receiver.received[0].json["event"] == "payment.canceled"
    assert receiver.received[0].json["object"]["cancellation_details"]["reason"] == (
        "insufficient_funds"
    )


async def test_signatures_follow_the_emulator_clock(
    api: httpx.AsyncClient, emulators: EmulatorHost, receiver: WebhookReceiver
) -> None:
    # given
    await api.put("/_admin/clock", json={"now": "2030-01-02T03:04:05+00:00"})
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    await eventually(lambda: receiver.received)
    signed_at = check_signature(receiver.received[0], emulators.config.webhook_secret)
    assert signed_at == int(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())


async def test_a_notification_is_retried_until_the_shop_answers_2xx(
    api: httpx.AsyncClient, emulators: EmulatorHost, receiver: WebhookReceiver
) -> None:
    # given
    receiver.answers = [500, 503]
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    async def delivered() -> dict[str, Any] | None:
        log = (await api.get("/_admin/webhooks")).json()
        deliveries = log["deliveries"]
        return deliveries[0] if deliveries and deliveries[0]["state"] == "delivered" else None

    delivery = await eventually(delivered)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert [r.headers["x-acquirer-attempt"] for r in receiver.received] == ["1", "2", "3"]
    assert len({r.body for r in receiver.received}) == 1
    for received in receiver.received:
        check_signature(received, emulators.config.webhook_secret)


async def test_a_notification_is_given_up_after_the_last_retry(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    # given
    receiver.always = 500
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    async def failed() -> dict[str, Any] | None:
        deliveries = (await api.get("/_admin/webhooks")).json()["deliveries"]
        return deliveries[0] if deliveries and deliveries[0]["state"] == "failed" else None

    delivery = await eventually(failed)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500]
    assert len(receiver.received) == 3


async def test_an_unreachable_shop_is_logged_as_a_transport_error(
    api: httpx.AsyncClient,
) -> None:
    # given
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    await api.put("/_admin/webhooks", json={"url": dead, "retry_delays_ms": [10], "enabled": True})
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    async def failed() -> dict[str, Any] | None:
        deliveries = (await api.get("/_admin/webhooks")).json()["deliveries"]
        return deliveries[0] if deliveries and deliveries[0]["state"] == "failed" else None

    delivery = await eventually(failed)
    assert [a["status_code"] for a in delivery["attempts"]] == [None, None]
    assert all(a["error"].startswith("ConnectError") for a in delivery["attempts"])


async def test_the_duplicate_knob_sends_every_event_twice(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    # given
    await api.put("/_admin/webhooks", json={"duplicate": True})
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    await eventually(lambda: len(receiver.received) == 2)
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["x-acquirer-delivery"] != second.headers["x-acquirer-delivery"]


async def test_the_reorder_knob_delivers_the_newer_event_first(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    # given
    await api.put("/_admin/webhooks", json={"reorder": True, "reorder_hold_ms": 5000})
    older = await create(api, key="older")
    newer = await create(api, key="newer")

    # when
    await pay(api, older["id"], SUCCEEDS)
    await pay(api, newer["id"], DECLINED)

    # then
    await eventually(lambda: len(receiver.received) == 2)
    assert [r.json["object"]["id"] for r in receiver.received] == [newer["id"], older["id"]]


async def test_a_lone_held_event_is_sent_after_the_hold_time(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    # given
    await api.put("/_admin/webhooks", json={"reorder": True, "reorder_hold_ms": 50})
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    await eventually(lambda: receiver.received)
    assert receiver.received[0].json["object"]["id"] == payment["id"]


async def test_a_disabled_sender_logs_events_as_skipped(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    # given
    await api.put("/_admin/webhooks", json={"enabled": False})
    payment = await create(api)

    # when
    await pay(api, payment["id"], SUCCEEDS)

    # then
    log = (await api.get("/_admin/webhooks")).json()
    assert [d["state"] for d in log["deliveries"]] == ["skipped"]
    assert log["in_flight"] == 0
    assert receiver.received == []


async def test_reseed_cancels_pending_deliveries_and_restores_the_knobs(
    api: httpx.AsyncClient, emulators: EmulatorHost, receiver: WebhookReceiver
) -> None:
    # given
    receiver.always = 500
    await api.put("/_admin/webhooks", json={"retry_delays_ms": [60000]})
    payment = await create(api)
    await pay(api, payment["id"], SUCCEEDS)
    await eventually(lambda: receiver.received)

    # when
    emulators.runtimes["acquirer"].reseed()

    # then
    log = (await api.get("/_admin/webhooks")).json()
    assert log["in_flight"] == 0
    assert log["deliveries"] == []
    assert log["settings"]["url"] == emulators.config.webhook_url
    assert log["settings"]["retry_delays_ms"] == [1000.0, 5000.0, 30000.0]
    assert (await api.get(f"/v3/payments/{payment['id']}")).status_code == 404


async def test_stopping_the_emulator_cancels_its_background_tasks() -> None:
    # given: a second acquirer of its own, with a delivery waiting for its next retry
    async with WebhookReceiver(always=500).running() as shop:
        host = EmulatorHost(
            EmulatorConfig(acquirer_port=0, webhook_url=shop.url), systems=("acquirer",)
        )
        await host.start()
        async with httpx.AsyncClient(
            base_url=host.config.acquirer_url, auth=shop_auth(host), timeout=5
        ) as client:
            await client.put("/_admin/webhooks", json={"retry_delays_ms": [60000]})
            payment = await create(client)
            await pay(client, payment["id"], SUCCEEDS)
            await eventually(lambda: shop.received)

        # when
        await host.stop()

    # then
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert not any(name.startswith(("webhook-", "acquirer-")) for name in names)
