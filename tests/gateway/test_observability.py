"""Request ids travel with the request and into the logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from starlette.applications import Starlette

from gateway.observability import JsonFormatter, request_id_var


async def test_a_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "mobile-42.a"})

    assert response.headers["x-request-id"] == "mobile-42.a"


async def test_an_insane_request_id_is_replaced_by_a_new_one(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "<script>" * 20})

    assert len(response.headers["x-request-id"]) == 32
    assert "<" not in response.headers["x-request-id"]


def test_a_log_line_is_json_with_the_request_id_and_extra_fields() -> None:
    record = logging.LogRecord(
        "gateway.test", logging.INFO, __file__, 1, "привет %s", ("мир",), None
    )
    record.upstream = "billing"
    token = request_id_var.set("req-1")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)

    entry = json.loads(line)
    assert entry["message"] == "привет мир"
    assert entry["request_id"] == "req-1"
    assert entry["upstream"] == "billing"
    assert entry["level"] == "INFO"


PHONE = "79123456789"
EMAIL = "olga.semina@example.org"


async def test_logs_never_carry_a_customers_phone_or_e_mail(
    client: httpx.AsyncClient, app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.gateway.journeys import sign_in_demo
    from tests.support import graphql

    request_code = """
    mutation($channel: ContactChannel!, $value: String!) {
      requestContactCode(input: {channel: $channel, value: $value}) { errors { code } }
    }"""
    with caplog.at_level(logging.DEBUG):
        headers = await sign_in_demo(client)
        await graphql(
            client, request_code, {"channel": "PHONE", "value": "+7 912 345-67-89"}, headers=headers
        )
        await graphql(client, request_code, {"channel": "EMAIL", "value": EMAIL}, headers=headers)
        await graphql(
            client,
            """mutation { requestPasswordReset(input: {login: "7200000001", channel: EMAIL}) {
              errors { code } } }""",
        )
        await app.state.services.identity.drain()  # recovery codes go out in the background
    lines = [JsonFormatter().format(record) for record in caplog.records]

    sent = [json.loads(line) for line in lines if '"code sent"' in line]
    assert [entry["to"] for entry in sent] == [
        "+7 912 ***-**-89",
        "ol***@example.org",
        "m.***@example.ru",
    ]
    for line in lines:
        assert PHONE not in line, line[:160]
        assert "912 345-67-89" not in line
        assert EMAIL not in line
        assert "m.ivanova@example.ru" not in line
