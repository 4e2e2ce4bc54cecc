"""The hourly cost budget of customers, API keys and client addresses, an API key's requests
per minute, WebSocket connections per address: each passes at its edge and refuses one over,
with RATE_LIMITED, a Russian message naming the limit, and when to come back."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from emulators.host import EmulatorHost
from gateway.cli import main
from tests.gateway.http.support import gateway, key_id, live_gateway, post, services
from tests.gateway.journeys import DEMO_LOGIN, DEMO_PASSWORD, sign_in_demo

APP_INFO = "{ appInfo { version } }"  # costs 2: appInfo and version
USAGE = "{ rateLimitInfo { subject limit remaining resetAt windowSeconds requestsPerMinute } }"
OPERATOR_KEY = {"x-api-key": "demo-operator-key"}


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # `lkk` configures the root logger for the process; give the test runner its own back
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def error_of(response: httpx.Response) -> dict[str, Any]:
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


async def spend(http: httpx.AsyncClient, times: int, headers: dict[str, str] | None = None) -> None:
    for _ in range(times):
        response = await post(http, {"query": APP_INFO}, headers=headers)
        assert response.status_code == 200, response.text
        assert "errors" not in response.json(), response.text


# --- the hourly cost budget --------------------------------------------------------------------


async def test_an_address_without_credentials_spends_its_budget_to_the_edge_and_no_further(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, hourly_cost_budget=6) as (_, http):
        await spend(http, 3)  # 6 of 6: at the limit still passes
        over = await post(http, {"query": APP_INFO})
        legacy = await post(http, {"query": APP_INFO}, accept="application/json")

    assert over.status_code == 429
    assert int(over.headers["retry-after"]) > 3000
    assert "data" not in over.json()
    error = error_of(over)
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["rateLimit"] == "hourlyCostBudget"
    assert error["extensions"]["limit"] == 6
    assert error["extensions"]["cost"] == 2
    assert error["extensions"]["remaining"] == 0
    reset_at = datetime.fromisoformat(error["extensions"]["resetAt"])
    assert timedelta(minutes=55) < reset_at - datetime.now(UTC) <= timedelta(hours=1)
    assert "часовой лимит стоимости запросов вашего адреса: 6 единиц в час" in error["message"]
    assert "Лимит восстановится в" in error["message"]
    assert legacy.status_code == 200  # application/json: every well-formed request is 200
    assert error_of(legacy)["extensions"]["rateLimit"] == "hourlyCostBudget"


async def test_a_request_costing_more_than_is_left_is_refused_whole_and_costs_nothing(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, hourly_cost_budget=5) as (_, http):
        await spend(http, 2)  # 4 spent, 1 left
        refused = await post(http, {"query": APP_INFO})
        cheap = await post(http, {"query": "{ __typename appInfo { __typename } }"})
        usage = await post(http, {"query": USAGE})

    assert error_of(refused)["extensions"]["remaining"] == 1
    assert cheap.json()["data"]["appInfo"] == {"__typename": "AppInfo"}  # costs 1: fits
    assert usage.json()["data"]["rateLimitInfo"]["remaining"] == 0


async def test_rate_limit_info_costs_nothing_and_says_what_is_left_and_when(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, hourly_cost_budget=6) as (_, http):
        fresh = await post(http, {"query": USAGE})
        await spend(http, 3)
        exhausted = await post(http, {"query": USAGE})

    assert fresh.json()["data"]["rateLimitInfo"] == {
        "subject": "CLIENT_ADDRESS",
        "limit": 6,
        "remaining": 6,
        "resetAt": None,
        "windowSeconds": 3600,
        "requestsPerMinute": None,
    }
    info = exhausted.json()["data"]["rateLimitInfo"]
    assert info["remaining"] == 0
    reset_at = datetime.fromisoformat(info["resetAt"])
    assert timedelta(minutes=55) < reset_at - datetime.now(UTC) <= timedelta(hours=1)


async def test_a_signed_in_customer_spends_a_budget_of_their_own(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, hourly_cost_budget=10) as (_, http):
        customer = await sign_in_demo(http)  # the address pays for signIn (4)
        http.cookies.clear()
        info = await post(http, {"query": USAGE}, headers=customer)
        await spend(http, 5, headers=customer)  # 10 of 10
        over = await post(http, {"query": APP_INFO}, headers=customer)
        anonymous = await post(http, {"query": APP_INFO})  # the address has 6 left

    assert info.json()["data"]["rateLimitInfo"]["subject"] == "CUSTOMER"
    assert info.json()["data"]["rateLimitInfo"]["remaining"] == 10
    assert over.status_code == 429
    assert "вашей учётной записи" in error_of(over)["message"]
    assert anonymous.status_code == 200


async def test_an_api_key_spends_the_budget_set_for_it(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path) as (app, http):
        operator = uuid.UUID(await key_id(app, "оператор"))
        await services(app).access.usage.key_limits.set(
            operator, requests_per_minute=None, hourly_cost_budget=4
        )
        info = await post(http, {"query": USAGE}, headers=OPERATOR_KEY)
        await spend(http, 2, headers=OPERATOR_KEY)
        over = await post(http, {"query": APP_INFO}, headers=OPERATOR_KEY)

    assert info.json()["data"]["rateLimitInfo"] == {
        "subject": "API_KEY",
        "limit": 4,
        "remaining": 4,
        "resetAt": None,
        "windowSeconds": 3600,
        "requestsPerMinute": 600,
    }
    assert over.status_code == 429
    assert "ключа API: 4 единиц в час" in error_of(over)["message"]


async def test_a_document_refused_by_a_per_request_limit_is_not_charged(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, hourly_cost_budget=6, max_query_depth=1) as (
        _,
        http,
    ):
        deep = await post(http, {"query": "{ appInfo { upstreams { name } } }"})
        usage = await post(http, {"query": USAGE})

    assert error_of(deep)["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert usage.json()["data"]["rateLimitInfo"]["remaining"] == 6


# --- an API key's requests per minute ----------------------------------------------------------


def lkk(*argv: str) -> int:
    return main(["apikey", *argv])


async def test_an_api_key_sends_its_requests_per_minute_and_not_one_more(
    emulators: EmulatorHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with gateway(emulators, tmp_path) as (app, http):
        monkeypatch.setenv("LKK_DATABASE_URL", services(app).settings.effective_database_url)
        operator = await key_id(app, "оператор")
        assert await asyncio.to_thread(lkk, "limits", operator, "--per-minute", "3") == 0
        printed = capsys.readouterr().out
        await spend(http, 3, headers=OPERATOR_KEY)
        over = await post(http, {"query": APP_INFO}, headers=OPERATOR_KEY)
        anonymous = await post(http, {"query": APP_INFO})

    assert "requests per minute  3" in printed
    assert over.status_code == 429
    assert 1 <= int(over.headers["retry-after"]) <= 60
    error = error_of(over)
    assert error["extensions"]["rateLimit"] == "apiKeyRequestsPerMinute"
    assert error["extensions"]["limit"] == 3
    assert "не более 3 в минуту" in error["message"]
    assert anonymous.status_code == 200


# --- WebSocket connections ---------------------------------------------------------------------


async def test_an_address_opens_its_websocket_connections_per_minute_and_not_one_more(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with live_gateway(emulators, tmp_path, ws_connections_per_minute=2) as url:
        for _ in range(2):
            async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
                assert socket.subprotocol == "graphql-transport-ws"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, subprotocols=["graphql-transport-ws"]):  # type: ignore[list-item]
                pass

    response = refused.value.response
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    error = json.loads(response.body)["errors"][0]
    assert error["extensions"]["rateLimit"] == "webSocketConnectionsPerMinute"
    assert "подключений WebSocket" in error["message"]


async def test_connection_init_is_authenticated_by_its_token_and_answered_in_text(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with live_gateway(emulators, tmp_path) as url:
        base = url.replace("ws://", "http://").removesuffix("/graphql")
        async with httpx.AsyncClient(base_url=base) as http:
            signed_in = await http.post(
                "/graphql",
                json={
                    "query": "mutation($l: String!, $p: String!) "
                    "{ signIn(input: {login: $l, password: $p}) { token } }",
                    "variables": {"l": DEMO_LOGIN, "p": DEMO_PASSWORD},
                },
            )
        token = signed_in.json()["data"]["signIn"]["token"]
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            await socket.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            frame = await asyncio.wait_for(socket.recv(), 10)
            ack = json.loads(frame)
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            await socket.send(
                json.dumps({"type": "connection_init", "payload": {"token": "forged"}})
            )
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)

    assert ack["type"] == "connection_ack"
    assert isinstance(frame, str)  # a text frame: browsers' graphql-ws cannot parse binary
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
