"""Web security: security headers (and a Content-Security-Policy that lets exactly GraphiQL
run), HSTS behind https, CORS only for configured origins, CSRF safety of the session
cookie."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from emulators.host import EmulatorHost
from gateway.settings import Settings
from tests.gateway.http.support import gateway, post
from tests.gateway.journeys import DEMO_LOGIN, DEMO_PASSWORD, SIGN_IN

ME = {"query": "{ me { login } }"}
LK = "https://lk.example.ru"


def directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        found[name] = values
    return found


# --- headers -------------------------------------------------------------------------------------


async def test_api_answers_carry_the_security_headers(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ appInfo { version } }"})

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert "strict-transport-security" not in response.headers  # public URL is http here


async def test_hsts_is_sent_when_the_public_url_is_https(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, public_url=LK) as (_, http):
        response = await http.get("/healthz")

    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_graphiql_may_load_its_pinned_cdn_scripts_and_its_own_inline_script_only(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})

    policy = directives(response.headers["content-security-policy"])
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in inline
    ]
    assert inline  # the page's own bootstrap script
    assert policy["script-src"] == ["https://unpkg.com", *hashes]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "https://unpkg.com" in policy["style-src"]
    cdn_sources = re.findall(r'(?:src|href)="(https://[^"]+)"', response.text)
    assert cdn_sources
    assert all(s.startswith("https://unpkg.com/") for s in cdn_sources)
    assert policy["connect-src"] == ["'self'", "wss://gateway.test", "ws://gateway.test"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-frame-options"] == "DENY"


async def test_pages_get_a_policy_without_inline_scripts(client: httpx.AsyncClient) -> None:
    response = await client.get("/privacy")

    policy = directives(response.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]


# --- CORS ----------------------------------------------------------------------------------------


def preflight(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }


async def test_a_configured_origin_may_call_the_api_with_the_cookie(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, cors_origins=f"{LK}, https://m.example.ru") as (
        _,
        http,
    ):
        allowed = await http.options("/graphql", headers=preflight(LK))
        foreign = await http.options("/graphql", headers=preflight("https://evil.example"))
        actual = await post(http, ME, headers={"origin": LK})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == LK
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    assert actual.headers["access-control-allow-origin"] == LK
    assert "x-request-id" in actual.headers["access-control-expose-headers"]


async def test_without_configured_origins_no_page_of_another_site_is_let_in(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options("/graphql", headers=preflight(LK))

    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_must_be_named_one_by_one() -> None:
    with pytest.raises(ValidationError):
        Settings(cors_origins="*")
    with pytest.raises(ValidationError):
        Settings(cors_origins="https://lk.example.ru/path")
    assert Settings(cors_origins=f"{LK}/, https://m.example.ru:8443").cors_origin_list == [
        LK,
        "https://m.example.ru:8443",
    ]


# --- CSRF ----------------------------------------------------------------------------------------


async def signed_in_with_cookie(http: httpx.AsyncClient) -> None:
    body = await post(
        http, {"query": SIGN_IN, "variables": {"login": DEMO_LOGIN, "password": DEMO_PASSWORD}}
    )
    assert body.json()["data"]["signIn"]["errors"] == []
    assert "lkk_session" in http.cookies


async def test_the_session_cookie_works_for_json_posts_and_for_get_queries(
    client: httpx.AsyncClient,
) -> None:
    await signed_in_with_cookie(client)

    posted = await post(client, ME)
    fetched = await client.get("/graphql", params=ME)

    assert posted.json()["data"]["me"]["login"] == DEMO_LOGIN
    assert fetched.json()["data"]["me"]["login"] == DEMO_LOGIN


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
)
async def test_what_a_cross_site_form_can_send_never_runs_with_the_cookie(
    client: httpx.AsyncClient, content_type: str
) -> None:
    await signed_in_with_cookie(client)
    sign_out = '{"query": "mutation { signOut { signedOut } }"}'

    forged = await client.post(
        "/graphql",
        content=sign_out,
        headers={"content-type": content_type, "origin": "https://evil.example"},
    )
    still = await post(client, ME)

    assert forged.status_code == 415
    assert still.json()["data"]["me"]["login"] == DEMO_LOGIN  # the session was not touched


async def test_a_mutation_cannot_ride_on_a_get_with_the_cookie(client: httpx.AsyncClient) -> None:
    await signed_in_with_cookie(client)

    forged = await client.get("/graphql", params={"query": "mutation { signOut { signedOut } }"})
    still = await post(client, ME)

    assert forged.status_code == 405
    assert still.json()["data"]["me"]["login"] == DEMO_LOGIN
