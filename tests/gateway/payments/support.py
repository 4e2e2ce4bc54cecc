"""Steps of payment journeys: startPayment, the acquirer's admin API, signed webhooks, a
gateway on a real port (webhooks and WebSockets need one), and a graphql-transport-ws
client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from emulators.acquirer.webhooks import sign
from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from gateway.services import Services
from gateway.settings import Settings
from tests.gateway.conftest import settings_for
from tests.support import graphql

ACCOUNT = "7200000001"
SUCCEEDS = "5555 5555 5555 4477"
THREE_DS = "5555 5555 5555 4444"
DECLINED = "4111 1111 1111 1111"
TIMES_OUT = "4000 0000 0000 0408"
THREE_DS_CODE = "123456"
WEBHOOK_SECRET = "test_webhook_secret"
RETURN_URL = "https://lk.example.ru/payments/done"
PROTOCOL = Subprotocol("graphql-transport-ws")

START = """
mutation($input: StartPaymentInput!) {
  startPayment(input: $input) {
    payment { id status amount group createdAt bookedAt }
    confirmationUrl
    errors { code field message }
  }
}"""
PAYMENTS = """
query($number: AccountNumber!) {
  account(number: $number) {
    payments(first: 50) { edges { node { id status amount group bookedAt } } }
  }
}"""
SUBSCRIBE = """
subscription($id: ID!) {
  paymentUpdated(id: $id) { id status amount group bookedAt failureReason }
}"""


def fast_settings(emulators: EmulatorHost, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for payment tests: quick outbox retries, bookings checked and payments
    reconciled every 50 ms, a payment counts as stuck after a minute (tests move the
    gateway's clock past it); breakers retry after 0.2 s, so an outage ends quickly."""
    values: dict[str, Any] = {
        "outbox_poll_seconds": 0.05,
        "outbox_backoff_seconds": 0.05,
        "outbox_backoff_max_seconds": 0.2,
        "outbox_max_attempts": 200,
        "breaker_reset_seconds": 0.2,
        "payment_booking_check_seconds": 0.05,
        "payment_reconcile_seconds": 0.05,
        "payment_stuck_seconds": 60,
        **overrides,
    }
    return settings_for(emulators, data_dir, **values)


def payment_input(**overrides: Any) -> dict[str, Any]:
    """Variables of startPayment: 1 234,50 ₽ to group 1 of the demo account."""
    values: dict[str, Any] = {
        "accountNumber": ACCOUNT,
        "group": "HOUSING",
        "amount": "1234.50",
        "idempotencyKey": str(uuid.uuid4()),
        "returnUrl": RETURN_URL,
        **overrides,
    }
    return {"input": values}


async def start_payment(
    client: httpx.AsyncClient, headers: dict[str, str], variables: dict[str, Any]
) -> dict[str, Any]:
    """Run startPayment; its payload."""
    body = await graphql(client, START, variables, headers=headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["startPayment"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    """The error codes of a payload."""
    return [e["code"] for e in payload["errors"]]


def acquirer_id(payload: dict[str, Any]) -> str:
    """The acquirer's id of a started payment, from its card page's URL."""
    url: str = payload["confirmationUrl"]
    return url.rsplit("/", 1)[-1]


async def payments_of(
    client: httpx.AsyncClient, headers: dict[str, str], number: str = ACCOUNT
) -> list[dict[str, Any]]:
    """The account's payment history (Account.payments)."""
    body = await graphql(client, PAYMENTS, {"number": number}, headers=headers)
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["account"]["payments"]["edges"]]


async def status_of(services: Services, payment_id: str) -> str:
    """The payment's status in the gateway's store."""
    found = await services.payments.get(uuid.UUID(payment_id))
    assert found is not None
    return found.status.name


class Acquirer:
    """The acquirer emulator's APIs, as a shop and as its admin."""

    def __init__(self, emulators: EmulatorHost) -> None:
        self.base = emulators.config.acquirer_url
        self.runtime = emulators.runtimes["acquirer"]

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as http:
            response = await http.request(method, path, **kwargs)
            response.raise_for_status()
            return response.json()

    async def complete(self, payment_id: str, card: str, code: str | None = None) -> Any:
        """Pay on the card page (and answer 3-D Secure) without a browser."""
        body: dict[str, Any] = {"card": card, "expiry": "12/30", "cvc": "123"}
        if code is not None:
            body["code"] = code
        return await self._call("POST", f"/_admin/payments/{payment_id}/complete", json=body)

    async def payments(self) -> list[dict[str, Any]]:
        """Every payment the acquirer holds."""
        found: list[dict[str, Any]] = await self._call("GET", "/_admin/payments")
        return found

    async def payment(self, payment_id: str) -> dict[str, Any]:
        """A payment as ``GET /v3/payments/{id}`` shows it."""
        found: dict[str, Any] = await self._call(
            "GET", f"/v3/payments/{payment_id}", auth=("100500", "test_shop_secret")
        )
        return found

    async def webhooks(self, **knobs: Any) -> Any:
        """Change the webhook knobs (``url``, ``enabled``, ``duplicate``, …)."""
        return await self._call("PUT", "/_admin/webhooks", json=knobs)

    async def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook delivery so far."""
        found: list[dict[str, Any]] = (await self._call("GET", "/_admin/webhooks"))["deliveries"]
        return found

    async def processing(self, **knobs: Any) -> Any:
        """Change ``processing_timeout_seconds`` / ``confirmation_ttl_seconds``."""
        return await self._call("PUT", "/_admin/processing", json=knobs)


def signed(
    event: str, payment: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """A notification body and its headers, signed as the acquirer signs them."""
    body = json.dumps(
        {"type": "notification", "event": event, "object": payment},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    timestamp = int(time.time() if at is None else at)
    headers = {
        "content-type": "application/json; charset=utf-8",
        "x-acquirer-signature": sign(secret, timestamp, body),
        "x-acquirer-delivery": str(uuid.uuid4()),
    }
    return body, headers


def free_port() -> socket.socket:
    """A listening socket on a free port of 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class LiveGateway:
    """A gateway serving HTTP and WebSockets on a real port, in the test's event loop."""

    app: Starlette
    url: str
    settings: Settings

    @property
    def services(self) -> Services:
        """The running gateway's services."""
        services: Services = self.app.state.services
        return services

    @property
    def ws_url(self) -> str:
        """The GraphQL WebSocket endpoint."""
        return self.url.replace("http://", "ws://") + "/graphql"

    def client(self) -> httpx.AsyncClient:
        """An HTTP client of this gateway."""
        return httpx.AsyncClient(base_url=self.url, timeout=20)


@contextlib.asynccontextmanager
async def live_gateway(
    emulators: EmulatorHost, data_dir: Path, clock: Clock, **overrides: Any
) -> AsyncIterator[LiveGateway]:
    """Run a gateway under uvicorn on a free port until the context exits."""
    sock = free_port()
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = fast_settings(emulators, data_dir, port=port, public_url=url, **overrides)
    app = create_app(settings, clock=clock)
    server = uvicorn.Server(
        uvicorn.Config(
            app, lifespan="on", log_level="warning", ws="websockets-sansio", access_log=False
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise AssertionError("the live gateway did not start")
        await asyncio.sleep(0.02)
    try:
        yield LiveGateway(app, url, settings)
    finally:
        server.should_exit = True
        await task
        sock.close()


class Subscriber:
    """One ``paymentUpdated`` subscription over graphql-transport-ws, collecting what it
    receives in the background."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.received: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self.completed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        url: str,
        payment_id: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[Subscriber]:
        """Connect, initialise (with the token in the payload, if given) and subscribe."""
        async with connect(
            url, subprotocols=[PROTOCOL], additional_headers=headers or {}
        ) as socket:
            payload = {"authorization": f"Bearer {token}"} if token else {}
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert ack["type"] == "connection_ack", ack
            subscriber = cls(socket)
            await socket.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIBE, "variables": {"id": payment_id}},
                    }
                )
            )
            subscriber._task = asyncio.create_task(subscriber._collect())
            try:
                yield subscriber
            finally:
                subscriber._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await subscriber._task

    async def _collect(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message["type"] == "next":
                if message["payload"].get("errors"):
                    self.errors.extend(message["payload"]["errors"])
                else:
                    self.received.append(message["payload"]["data"]["paymentUpdated"])
            elif message["type"] == "error":
                self.errors.extend(message["payload"])
                self.completed.set()
            elif message["type"] == "complete":
                self.completed.set()
            elif message["type"] == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))

    @property
    def statuses(self) -> list[str]:
        """The statuses received, in order."""
        return [p["status"] for p in self.received]
