"""Gateways with settings of the test's own, in-process (httpx over ASGI) or live (uvicorn
on a free port, for WebSockets)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.services import Services
from gateway.settings import Environment
from tests.gateway.conftest import settings_for

PRODUCTION: dict[str, object] = {
    "environment": Environment.PRODUCTION,
    "migrate_on_start": True,
    "secret_key": "a-real-secret-of-this-deployment",
}
"""Overrides of a production gateway (it refuses the demo secret and would not migrate)."""

CLIENT_ADDRESS = "203.0.113.7"


@asynccontextmanager
async def gateway(
    emulators: EmulatorHost, data_dir: Path, **overrides: object
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """A gateway with these settings, its lifespan entered, and an HTTP client of it."""
    app = create_app(settings_for(emulators, data_dir, **overrides))
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as http,
    ):
        yield app, http


def services(app: Starlette) -> Services:
    """The services of a running app."""
    found: Services = app.state.services
    return found


async def key_id(app: Starlette, name_part: str) -> str:
    """The id of the (demo) key whose name contains ``name_part``."""
    keys = await services(app).api_keys.list_keys()
    return next(str(k.key_id) for k in keys if name_part in k.name)


async def post(
    http: httpx.AsyncClient,
    body: Any,
    *,
    accept: str | None = "application/graphql-response+json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a JSON body to /graphql with an Accept header (None: no Accept at all)."""
    request = http.build_request("POST", "/graphql", json=body, headers=headers or {})
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    return await http.send(request)


@asynccontextmanager
async def live_gateway(
    emulators: EmulatorHost, data_dir: Path, **overrides: object
) -> AsyncIterator[str]:
    """The gateway under uvicorn on a free port; yields its ws:// URL of /graphql."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(settings_for(emulators, data_dir, **overrides))
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
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task
        sock.close()
