"""Persisted operations: a partner key runs only the documents registered for it (``lkk
apikey allow``), by id; the first-party apps use automatic persisted queries (Apollo's APQ)
to send a hash instead of a document they have sent before."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from emulators.host import EmulatorHost
from gateway.access.operations import BoundedMemoryCache
from gateway.cli import main
from gateway.settings import Environment, Settings
from tests.gateway.http.support import PRODUCTION, gateway, key_id, live_gateway, post, services

PARTNER_KEY = {"x-api-key": "demo-partner-key"}
OPERATOR_KEY = {"x-api-key": "demo-operator-key"}
ACCOUNT = """query PartnerAccount($number: AccountNumber!) {
  account(number: $number) { number address }
}
"""
APP_INFO = "query Version { appInfo { version } }"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # `lkk` configures the root logger for the process; give the test runner its own back
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def code_of(response: httpx.Response) -> str:
    errors: list[dict[str, Any]] = response.json()["errors"]
    code: str = errors[0]["extensions"]["code"]
    return code


class Cli:
    """``lkk apikey …`` on the store of a running gateway."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.out = self.err = ""

    async def __call__(self, *argv: str) -> int:
        code = await asyncio.to_thread(main, ["apikey", *argv])
        self.out, self.err = self.capsys.readouterr()
        return code


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


async def allow(cli: Cli, key: str, document: str, folder: Path) -> str:
    """Register a document for a key with the CLI; the documentId it printed."""
    path = folder / f"{sha256(document)[:8]}.graphql"
    path.write_text(document, encoding="utf-8")
    assert await cli("allow", key, str(path), "--json") == 0, cli.err
    document_id: str = json.loads(cli.out)["documentId"]
    return document_id


# --- partners ----------------------------------------------------------------------------------


async def test_a_partner_runs_an_operation_registered_for_its_key_by_id(
    emulators: EmulatorHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    async with gateway(emulators, tmp_path, partner_allow_list=True) as (app, http):
        monkeypatch.setenv("LKK_DATABASE_URL", services(app).settings.effective_database_url)
        partner = await key_id(app, "партнёр")
        document_id = await allow(cli, partner, ACCOUNT, tmp_path)
        variables = {"number": "7200000002"}
        by_id = await post(
            http, {"documentId": document_id, "variables": variables}, headers=PARTNER_KEY
        )
        by_apq_hash = await post(
            http,
            {
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(ACCOUNT)}},
                "variables": variables,
            },
            headers=PARTNER_KEY,
        )
        listed = await cli("operations", partner)
        listing = cli.out

    assert document_id == f"sha256:{sha256(ACCOUNT)}"
    assert by_id.status_code == 200
    assert by_id.json()["data"]["account"]["number"] == "7200000002"
    assert by_apq_hash.json() == by_id.json()
    assert listed == 0
    assert f"{document_id}  PartnerAccount" in listing


async def test_a_partner_key_may_not_send_a_document_even_a_registered_one(
    emulators: EmulatorHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    async with gateway(emulators, tmp_path, partner_allow_list=True) as (app, http):
        monkeypatch.setenv("LKK_DATABASE_URL", services(app).settings.effective_database_url)
        await allow(cli, await key_id(app, "партнёр"), ACCOUNT, tmp_path)
        variables = {"number": "7200000002"}
        arbitrary = await post(http, {"query": "{ appInfo { version } }"}, headers=PARTNER_KEY)
        registered_text = await post(
            http, {"query": ACCOUNT, "variables": variables}, headers=PARTNER_KEY
        )
        legacy = await post(
            http, {"query": ACCOUNT}, headers=PARTNER_KEY, accept="application/json"
        )

    for refused in (arbitrary, registered_text):
        assert refused.status_code == 403
        assert "data" not in refused.json()
        assert code_of(refused) == "PERSISTED_QUERY_REQUIRED"
        assert "documentId" in refused.json()["errors"][0]["message"]
    assert legacy.status_code == 200
    assert code_of(legacy) == "PERSISTED_QUERY_REQUIRED"


async def test_an_id_not_on_the_keys_own_list_is_not_found(
    emulators: EmulatorHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    async with gateway(emulators, tmp_path, partner_allow_list=True) as (app, http):
        monkeypatch.setenv("LKK_DATABASE_URL", services(app).settings.effective_database_url)
        operators_own = await allow(cli, await key_id(app, "оператор"), APP_INFO, tmp_path)
        unknown = await post(http, {"documentId": f"sha256:{'0' * 64}"}, headers=PARTNER_KEY)
        someone_elses = await post(http, {"documentId": operators_own}, headers=PARTNER_KEY)

    for response in (unknown, someone_elses):
        assert response.status_code == 404
        assert code_of(response) == "PERSISTED_QUERY_NOT_FOUND"
        assert "не зарегистрирована" in response.json()["errors"][0]["message"]


async def test_a_disallowed_operation_stops_working(
    emulators: EmulatorHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    async with gateway(emulators, tmp_path, partner_allow_list=True) as (app, http):
        monkeypatch.setenv("LKK_DATABASE_URL", services(app).settings.effective_database_url)
        partner = await key_id(app, "партнёр")
        document_id = await allow(cli, partner, APP_INFO, tmp_path)
        before = await post(http, {"documentId": document_id}, headers=PARTNER_KEY)
        assert await cli("disallow", partner, document_id) == 0
        after = await post(http, {"documentId": document_id}, headers=PARTNER_KEY)

    assert before.status_code == 200
    assert after.status_code == 404


async def test_allow_refuses_a_document_that_does_not_validate(
    emulators: EmulatorHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    async with gateway(emulators, tmp_path, partner_allow_list=True) as (app, _):
        monkeypatch.setenv("LKK_DATABASE_URL", services(app).settings.effective_database_url)
        partner = await key_id(app, "партнёр")
        path = tmp_path / "typo.graphql"
        path.write_text("query Typo { appInfo { versoin } }", encoding="utf-8")
        refused = await cli("allow", partner, str(path))
        error = cli.err
        await cli("operations", partner, "--json")
        listed = json.loads(cli.out)

    assert refused == 1
    assert "invalid: Cannot query field 'versoin'" in error
    assert listed == []


async def test_the_contact_centre_key_may_still_send_documents(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, partner_allow_list=True) as (_, http):
        response = await post(http, {"query": APP_INFO}, headers=OPERATOR_KEY)

    assert response.status_code == 200
    assert response.json()["data"]["appInfo"]["version"]


def test_partners_are_held_to_their_lists_everywhere_but_the_demo() -> None:
    assert Settings(**PRODUCTION).partner_allow_list_enabled  # type: ignore[arg-type]
    assert Settings(environment=Environment.DEVELOPMENT).partner_allow_list_enabled
    assert not Settings().partner_allow_list_enabled


# --- automatic persisted queries -----------------------------------------------------------------


def apq(document: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256(document)}}


async def test_apq_a_hash_is_not_found_then_sent_with_its_document_then_found(
    client: httpx.AsyncClient,
) -> None:
    extensions = json.dumps(apq(APP_INFO))
    strict = {"accept": "application/graphql-response+json"}

    unknown = await client.get("/graphql", params={"extensions": extensions}, headers=strict)
    unknown_legacy = await client.get("/graphql", params={"extensions": extensions})
    registered = await post(client, {"query": APP_INFO, "extensions": apq(APP_INFO)})
    by_hash = await client.get("/graphql", params={"extensions": extensions}, headers=strict)

    assert unknown.status_code == 404  # not 400: Apollo's clients would give up on APQ
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown_legacy.status_code == 200
    assert code_of(unknown_legacy) == "PERSISTED_QUERY_NOT_FOUND"
    assert registered.status_code == 200
    assert by_hash.status_code == 200
    assert by_hash.json() == registered.json()
    assert by_hash.json()["data"]["appInfo"]["version"]


async def test_apq_a_hash_that_does_not_match_the_document_is_refused(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, {"query": APP_INFO, "extensions": apq("{ __typename }")})

    assert response.status_code == 400
    assert code_of(response) == "BAD_REQUEST"


async def test_apq_keeps_no_document_that_failed_validation(client: httpx.AsyncClient) -> None:
    invalid = "{ appInfo { versoin } }"

    sent = await post(client, {"query": invalid, "extensions": apq(invalid)})
    again = await post(client, {"extensions": apq(invalid)})

    assert sent.status_code == 400
    assert again.status_code == 404


async def test_apq_version_other_than_1_is_not_supported(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": APP_INFO, "extensions": apq(APP_INFO, version=2)})

    assert response.status_code == 400
    assert code_of(response) == "PERSISTED_QUERY_NOT_SUPPORTED"


async def test_apq_a_hashed_mutation_is_still_refused_over_get(client: httpx.AsyncClient) -> None:
    sign_out = "mutation Out { signOut { signedOut } }"
    await post(client, {"query": sign_out, "extensions": apq(sign_out)})

    response = await client.get("/graphql", params={"extensions": json.dumps(apq(sign_out))})

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_a_rotated_key_keeps_its_operations_and_limits(
    emulators: EmulatorHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    async with gateway(emulators, tmp_path, partner_allow_list=True) as (app, http):
        monkeypatch.setenv("LKK_DATABASE_URL", services(app).settings.effective_database_url)
        partner = await key_id(app, "партнёр")
        document_id = await allow(cli, partner, APP_INFO, tmp_path)
        assert await cli("limits", partner, "--per-minute", "7") == 0
        assert await cli("rotate", partner, "--json") == 0
        rotated = json.loads(cli.out)
        new_key = {"x-api-key": rotated["secret"]}
        runs = await post(http, {"documentId": document_id}, headers=new_key)
        assert await cli("limits", rotated["id"]) == 0
        limits = cli.out
        old_key = await post(http, {"documentId": document_id}, headers=PARTNER_KEY)

    assert runs.status_code == 200
    assert runs.json()["data"]["appInfo"]["version"]
    assert "requests per minute  7\n" in limits
    assert old_key.status_code == 404  # revoked: no longer a partner, its id means nothing


async def test_a_partner_key_cannot_open_a_websocket_to_send_any_document(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with live_gateway(emulators, tmp_path, partner_allow_list=True) as url:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                url,
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                additional_headers=PARTNER_KEY,
            ):
                pass

    assert refused.value.response.status_code == 403


# --- the in-memory APQ cache -----------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_memory_cache_forgets_the_least_recently_used_beyond_its_size() -> None:
    cache = BoundedMemoryCache(max_bytes=10)
    await cache.set("a", "aaaa")
    await cache.set("b", "bbbb")
    assert await cache.get("a") == "aaaa"  # now "b" is the least recently used

    await cache.set("c", "cccc")

    assert await cache.get("b") is None
    assert await cache.get("a") == "aaaa"
    assert await cache.get("c") == "cccc"
    assert not await cache.set("huge", "x" * 11)


async def test_the_memory_cache_forgets_a_document_when_its_time_is_up() -> None:
    ticks = Ticks()
    cache = BoundedMemoryCache(clock=ticks)
    await cache.set("a", "doc", ttl=60)

    ticks.now = 59.9
    alive = await cache.get("a")
    ticks.now = 60.0

    assert alive == "doc"
    assert await cache.get("a") is None
