"""The gateway's HTTP surface: GraphQL over POST and GET, GraphiQL, health and readiness."""

from __future__ import annotations

from pathlib import Path

import httpx

from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.settings import Environment
from tests.gateway.conftest import settings_for


async def test_healthz_answers_without_touching_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_store_and_every_breaker(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "store": True,
        "breakers": {
            "billing": "closed",
            "metering": "closed",
            "acquirer": "closed",
            "sms": "closed",
            "mail": "closed",
        },
    }


async def test_a_query_can_be_sent_with_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ appInfo { version } }"})

    assert response.status_code == 200
    assert response.json()["data"]["appInfo"]["version"]


async def test_a_browser_gets_graphiql(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_production_serves_no_graphiql(emulators: EmulatorHost, tmp_path: Path) -> None:
    settings = settings_for(
        emulators,
        tmp_path,
        environment=Environment.PRODUCTION,
        migrate_on_start=True,
        secret_key="a-real-secret-of-this-deployment",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        response = await client.get("/graphql", headers={"accept": "text/html"})

    assert "graphiql" not in response.text.lower()


async def test_a_parse_error_is_a_graphql_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ appInfo { "}, headers={"accept": "application/json"}
    )

    # GraphQL over HTTP: with application/json a well-formed request gets 200 and errors.
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")
