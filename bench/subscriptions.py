"""Scenario (6): many open ``paymentUpdated`` subscriptions receiving their payments' news.

Not a request/response load, so not wrk: the demo customer starts ``count`` payments, opens
one graphql-transport-ws subscription per payment, then every payment is paid at the
acquirer emulator (its admin "complete" with the test card that succeeds). The acquirer
signs a webhook to the gateway, the gateway moves the payment to SUCCEEDED (and later,
once billing has booked it, BOOKED) and pushes each change to the payment's subscriber.
Measured: how long from the card payment to the subscriber's message, how many arrive,
and the gateway's memory and CPU with the subscriptions open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.processes import cpu_seconds, rss_mib

START = (
    "mutation($input: StartPaymentInput!) { startPayment(input: $input) "
    "{ payment { id status } confirmationUrl errors { code message } } }"
)
SUBSCRIBE = "subscription($id: ID!) { paymentUpdated(id: $id) { id status amount bookedAt } }"
SUCCEEDS = "5555 5555 5555 4477"


@dataclass
class Watcher:
    """One subscription: what it received and when."""

    payment_id: str
    acquirer_id: str
    socket: ClientConnection | None = None
    paid_at: float = 0.0
    received: dict[str, float] = field(default_factory=dict)
    errors: list[Any] = field(default_factory=list)


async def _open(url: str, token: str, watcher: Watcher) -> None:
    socket = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(socket.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"id": watcher.payment_id}},
            }
        )
    )
    watcher.socket = socket


async def _listen(watcher: Watcher) -> None:
    assert watcher.socket is not None
    with contextlib.suppress(Exception):
        async for raw in watcher.socket:
            message = json.loads(raw)
            if message["type"] == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    watcher.errors.extend(payload["errors"])
                else:
                    status = payload["data"]["paymentUpdated"]["status"]
                    watcher.received.setdefault(status, time.monotonic())
            elif message["type"] == "ping":
                await watcher.socket.send(json.dumps({"type": "pong"}))
            elif message["type"] == "error":
                watcher.errors.append(message)
                return
            elif message["type"] == "complete":  # the payment reached a final state
                return


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)

    return {
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "max": round(ordered[-1], 1),
        "mean": round(statistics.fmean(ordered), 1),
    }


async def run(
    *,
    gateway: str,
    acquirer: str,
    token: str,
    gateway_pid: int,
    count: int = 200,
    wait_seconds: float = 40.0,
) -> dict[str, Any]:
    """Open ``count`` subscriptions, pay every payment, report what arrived and when."""
    headers = {"Authorization": f"Bearer {token}"}
    ws_url = gateway.replace("http://", "ws://") + "/graphql"
    watchers: list[Watcher] = []
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        for _ in range(count):
            variables = {
                "input": {
                    "accountNumber": "7200000001",
                    "group": "HOUSING",
                    "amount": "100.00",
                    "idempotencyKey": str(uuid.uuid4()),
                    "returnUrl": "https://lk.example.ru/payments/done",
                }
            }
            answer = (
                await http.post(
                    "/graphql", json={"query": START, "variables": variables}, headers=headers
                )
            ).json()
            payload = answer["data"]["startPayment"]
            if payload["errors"]:
                raise RuntimeError(f"startPayment refused: {payload['errors']}")
            watchers.append(
                Watcher(payload["payment"]["id"], payload["confirmationUrl"].rsplit("/", 1)[-1])
            )
    rss_before = rss_mib(gateway_pid)
    opened_at = time.monotonic()
    outcomes = await asyncio.gather(
        *(_open(ws_url, token, w) for w in watchers), return_exceptions=True
    )
    open_seconds = time.monotonic() - opened_at
    failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    live = [w for w in watchers if w.socket is not None]
    listeners = [asyncio.create_task(_listen(w)) for w in live]
    await asyncio.sleep(1.0)
    rss_open = rss_mib(gateway_pid)
    cpu_before = cpu_seconds(gateway_pid)
    peak = rss_open

    async with httpx.AsyncClient(base_url=acquirer, timeout=30) as http:
        limit = asyncio.Semaphore(20)

        async def pay(watcher: Watcher) -> None:
            async with limit:
                watcher.paid_at = time.monotonic()
                answer = await http.post(
                    f"/_admin/payments/{watcher.acquirer_id}/complete",
                    json={"card": SUCCEEDS, "expiry": "12/30", "cvc": "123"},
                )
                answer.raise_for_status()

        paying = asyncio.gather(*(pay(w) for w in live), return_exceptions=True)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            peak = max(peak, rss_mib(gateway_pid))
            if paying.done() and all("BOOKED" in w.received for w in live):
                break
            await asyncio.sleep(0.25)
        pay_errors = [repr(o) for o in await paying if isinstance(o, BaseException)]
        deliveries = (await http.get("/_admin/webhooks")).json()["deliveries"]
    attempts: dict[str, int] = {}
    for delivery in deliveries:
        for attempt in delivery["attempts"]:
            outcome = str(attempt.get("status_code") or attempt.get("error") or "none")
            attempts[outcome] = attempts.get(outcome, 0) + 1
    cpu_spent = cpu_seconds(gateway_pid) - cpu_before
    for task in listeners:
        task.cancel()
    for watcher in live:
        if watcher.socket is not None:
            with contextlib.suppress(Exception):
                await watcher.socket.close()
    succeeded = [
        1000 * (w.received["SUCCEEDED"] - w.paid_at) for w in live if "SUCCEEDED" in w.received
    ]
    booked = [1000 * (w.received["BOOKED"] - w.paid_at) for w in live if "BOOKED" in w.received]
    return {
        "subscriptions": count,
        "opened": len(live),
        "open_failures": failures[:5],
        "open_seconds": round(open_seconds, 2),
        "payment_failures": pay_errors[:5],
        "received_succeeded": len(succeeded),
        "received_booked": len(booked),
        "subscription_errors": sum(len(w.errors) for w in live),
        "webhook_deliveries": len(deliveries),
        "webhook_attempts_by_outcome": attempts,
        "latency_ms_paid_to_succeeded": _percentiles(succeeded),
        "latency_ms_paid_to_booked": _percentiles(booked),
        "gateway": {
            "rss_mib_before": round(rss_before, 1),
            "rss_mib_with_subscriptions": round(rss_open, 1),
            "rss_mib_per_subscription": round((rss_open - rss_before) / max(len(live), 1), 3),
            "rss_mib_peak": round(peak, 1),
            "cpu_seconds_while_updating": round(cpu_spent, 3),
        },
    }
