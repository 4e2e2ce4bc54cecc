"""Small helpers the tests share: GraphQL over an httpx client, waiting on a condition."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST one operation to ``/graphql`` and return the decoded answer."""
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers or {},
    )
    assert response.headers["content-type"].startswith("application/"), response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, within: float = 5.0, interval: float = 0.02
) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


CODE = re.compile(r"\b(\d{6})\b")


async def _messages(url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(url, params=params)
        response.raise_for_status()
        body = response.json()
    messages: list[dict[str, Any]] = body if isinstance(body, list) else body["messages"]
    return messages


async def wait_for_code(url: str, params: dict[str, str], *, seen: int = 0) -> str:
    """The code in the newest of more than ``seen`` messages at an emulator's JSON list
    (``/sms/messages?phone=`` or ``/mail/messages?to=``), waiting for it to arrive."""
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        found[:] = await _messages(url, params)
        return len(found) > seen

    await wait_for(arrived)
    match = CODE.search(found[0]["text"])
    assert match, found[0]
    return match.group(1)


async def message_count(url: str, params: dict[str, str]) -> int:
    """How many messages an emulator holds for a recipient."""
    return len(await _messages(url, params))


def in_ci() -> bool:
    """``CI=true`` (as `.ci/run` sets it): what a test needs must be there."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_unless_ci(reason: str) -> None:
    """Skip a test whose tool or service is missing, but fail it in CI, which must run it."""
    if in_ci():
        pytest.fail(f"CI=true, so this test must run: {reason}")
    pytest.skip(reason)
