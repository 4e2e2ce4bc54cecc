"""What the gateway keeps to itself: unexpected errors are masked (INTERNAL and the request
id, details in the log), production answers no introspection and gives no "did you mean"
hints, while the demo does both."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from emulators.host import EmulatorHost
from gateway.settings import Settings
from tests.gateway.http.support import PRODUCTION, gateway, post, services
from tests.gateway.journeys import sign_in_demo


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


# --- masked errors -----------------------------------------------------------------------------


async def test_an_exception_in_a_resolver_is_masked_with_the_request_id(
    emulators: EmulatorHost, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with gateway(emulators, tmp_path) as (app, http):
        customer = await sign_in_demo(http)
        async with services(app).store.session() as db:  # a corrupted store
            await db.execute(text("DROP TABLE user_accounts"))
        with caplog.at_level(logging.ERROR):
            response = await post(
                http,
                {"query": "{ me { login accounts { number } } appInfo { version } }"},
                headers={**customer, "x-request-id": "req-corrupted-1"},
            )

    assert response.status_code == 200  # the request ran; one field failed
    body = response.json()
    assert body["data"]["appInfo"]["version"]
    [error] = errors_of(response)
    assert error["message"] == "Внутренняя ошибка. Код запроса: req-corrupted-1"
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "req-corrupted-1"}
    assert error["path"][0] == "me"
    assert "user_accounts" not in response.text  # nothing of the cause leaks
    assert response.headers["x-request-id"] == "req-corrupted-1"
    logged = [r for r in caplog.records if r.name == "gateway.errors"]
    assert logged
    assert logged[0].exc_info is not None
    assert "user_accounts" in caplog.text


async def test_an_exception_before_graphql_runs_is_a_masked_500(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path) as (app, http):
        customer = await sign_in_demo(http)
        async with services(app).store.session() as db:
            await db.execute(text("DROP TABLE sessions"))
        response = await post(
            http,
            {"query": "{ me { login } }"},
            headers={**customer, "x-request-id": "req-corrupted-2"},
            accept="application/json",
        )

    assert response.status_code == 500
    assert errors_of(response) == [
        {
            "message": "Внутренняя ошибка. Код запроса: req-corrupted-2",
            "extensions": {"code": "INTERNAL", "requestId": "req-corrupted-2"},
        }
    ]
    assert "sessions" not in response.text


async def test_our_typed_errors_pass_through_unmasked(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ diagnosticReports(first: 1) { totalCount } }"})

    [error] = errors_of(response)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == "Недостаточно прав для этой операции."


# --- introspection and suggestions ---------------------------------------------------------------


@pytest.mark.parametrize(
    "document", ["{ __schema { queryType { name } } }", '{ __type(name: "Query") { name } }']
)
async def test_production_answers_no_introspection(
    emulators: EmulatorHost, tmp_path: Path, document: str
) -> None:
    async with gateway(emulators, tmp_path, **PRODUCTION) as (_, http):
        refused = await post(http, {"query": document})
        typename = await post(http, {"query": "{ __typename }"})

    assert refused.status_code == 400
    [error] = errors_of(refused)
    assert error["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert typename.json() == {"data": {"__typename": "Query"}}


async def test_the_demo_answers_introspection(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ __schema { queryType { name } } }"})

    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_production_gives_no_did_you_mean_hints_and_the_demo_does(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    typo = {"query": "{ appInf { version } }"}
    async with gateway(emulators, tmp_path / "production", **PRODUCTION) as (_, http):
        production = errors_of(await post(http, typo))[0]["message"]
    async with gateway(emulators, tmp_path / "demo") as (_, http):
        demo = errors_of(await post(http, typo))[0]["message"]

    assert production == "Cannot query field 'appInf' on type 'Query'."
    assert demo == "Cannot query field 'appInf' on type 'Query'. Did you mean 'appInfo'?"


def test_production_switches_developer_aids_off_unless_told_otherwise() -> None:
    production = Settings(**PRODUCTION)  # type: ignore[arg-type]
    demo = Settings()
    opened = Settings(**PRODUCTION, introspection=True, graphql_suggestions=True)  # type: ignore[arg-type]

    assert (production.introspection_enabled, production.suggestions_enabled) == (False, False)
    assert not production.graphiql_enabled
    assert (demo.introspection_enabled, demo.suggestions_enabled) == (True, True)
    assert (opened.introspection_enabled, opened.suggestions_enabled) == (True, True)
