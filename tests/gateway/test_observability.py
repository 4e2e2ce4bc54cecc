"""Request ids travel with the request and into the logs."""

from __future__ import annotations

import json
import logging

import httpx

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
