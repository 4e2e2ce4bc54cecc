"""GraphQL over HTTP as the specification says: Accept negotiation, status codes by media
type, GET for queries only, JSON bodies of a bounded size, no batching."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from emulators.host import EmulatorHost
from tests.gateway.http.support import gateway, post

GRAPHQL_RESPONSE = "application/graphql-response+json"
APP_INFO = "{ appInfo { version } }"


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


# --- Accept ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", "application/json"),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0, application/json", "application/json"),
        (None, GRAPHQL_RESPONSE),  # no Accept: the specification's default since 2025
    ],
)
async def test_the_answer_comes_in_the_most_preferred_media_type_we_serve(
    client: httpx.AsyncClient, accept: str | None, media: str
) -> None:
    response = await post(client, {"query": APP_INFO}, accept=accept)

    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media}; charset=utf-8"
    assert response.json()["data"]["appInfo"]["version"]


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", "application/json; charset=latin-1"]
)
async def test_an_accept_that_allows_neither_json_type_is_406(
    client: httpx.AsyncClient, accept: str
) -> None:
    response = await post(client, {"query": APP_INFO}, accept=accept)

    assert response.status_code == 406
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert codes(response) == ["NOT_ACCEPTABLE"]


# --- status codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"query": "{ appInfo { "}, "a document that does not parse"),
        ({"query": "{ appInfo { nonsense } }"}, "a document that does not validate"),
        (
            {"query": "query($n: Int!) { appInfo { version } }", "variables": {"n": "x"}},
            "variables of the wrong type",
        ),
        ({"query": "query A { appInfo { version } } query B { __typename }"}, "no operation"),
    ],
)
async def test_a_request_that_did_not_run_is_400_without_data_in_graphql_response_json(
    client: httpx.AsyncClient, body: dict[str, object], what: str
) -> None:
    strict = await post(client, body)
    legacy = await post(client, body, accept="application/json")

    assert strict.status_code == 400, what
    assert "data" not in strict.json(), what
    assert strict.json()["errors"], what
    assert legacy.status_code == 200, what
    assert "data" not in legacy.json(), what
    assert legacy.json()["errors"] == strict.json()["errors"]


async def test_a_field_error_during_execution_is_200_with_data(client: httpx.AsyncClient) -> None:
    # Operators only, and non-null: the error nulls the whole answer, yet the request ran.
    response = await post(client, {"query": "{ diagnosticReports(first: 1) { totalCount } }"})

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["diagnosticReports"]
    assert codes(response) == ["FORBIDDEN"]


async def test_answers_are_not_cached_and_vary_by_accept(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": APP_INFO})

    assert response.headers["cache-control"] == "no-store"
    assert "Accept" in response.headers["vary"]


# --- methods ---------------------------------------------------------------------------------


async def test_a_query_over_get_runs(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": APP_INFO}, headers={"accept": GRAPHQL_RESPONSE}
    )

    assert response.status_code == 200
    assert response.json()["data"]["appInfo"]["version"]


async def test_a_mutation_over_get_is_405_and_does_not_run(client: httpx.AsyncClient) -> None:
    sign_in = 'mutation { signIn(input: {login: "7200000001", password: "Demo2026!"}) { token } }'

    strict = await client.get(
        "/graphql", params={"query": sign_in}, headers={"accept": GRAPHQL_RESPONSE}
    )
    legacy = await client.get("/graphql", params={"query": sign_in})

    for response in (strict, legacy):
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert codes(response) == ["METHOD_NOT_ALLOWED"]
        assert "set-cookie" not in response.headers


async def test_the_operation_name_decides_whether_get_may_run_it(
    client: httpx.AsyncClient,
) -> None:
    document = "query Q { appInfo { version } } mutation M { signOut { errors { code } } }"

    query = await client.get("/graphql", params={"query": document, "operationName": "Q"})
    mutation = await client.get("/graphql", params={"query": document, "operationName": "M"})

    assert query.status_code == 200
    assert query.json()["data"]["appInfo"]["version"]
    assert mutation.status_code == 405


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405_with_allow(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/graphql", json={"query": APP_INFO})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]


# --- bodies ----------------------------------------------------------------------------------


async def test_a_batch_is_refused_with_400(client: httpx.AsyncClient) -> None:
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        response = await post(client, [{"query": APP_INFO}, {"query": APP_INFO}], accept=accept)

        assert response.status_code == 400
        assert codes(response) == ["BAD_REQUEST"]
        assert "Пакетные запросы" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", None],
)
async def test_a_body_other_than_utf8_json_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    request = client.build_request("POST", "/graphql", content=json.dumps({"query": APP_INFO}))
    if content_type is not None:
        request.headers["content-type"] = content_type

    response = await client.send(request)

    assert response.status_code == 415
    assert codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"NONSENSE", "not JSON"),
        (b'{"query":', "truncated JSON"),
        (b'"{ appInfo { version } }"', "not an object"),
        (b'{"qeury": "{ appInfo { version } }"}', "no query"),
        (b'{"query": 7}', "query not a string"),
        (b'{"query": "{ __typename }", "variables": [7]}', "variables not an object"),
        (b'{"query": "{ __typename }", "operationName": 1}', "operationName not a string"),
        (b'\xff\xfe{"query": 1}', "not UTF-8"),
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_400(
    client: httpx.AsyncClient, content: bytes, problem: str
) -> None:
    response = await post_raw(client, content)

    assert response.status_code == 400, problem
    assert codes(response) == ["BAD_REQUEST"], problem


async def post_raw(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    """POST ``content`` as it is, declared as JSON."""
    return await client.post(
        "/graphql",
        content=content,
        headers={"content-type": "application/json", "accept": "application/json"},
    )


def body_of_size(size: int) -> bytes:
    """A valid request body of exactly ``size`` bytes (the document padded with spaces)."""
    empty = json.dumps({"query": APP_INFO}).encode()
    padded = {"query": APP_INFO + " " * (size - len(empty))}
    body = json.dumps(padded).encode()
    assert len(body) == size
    return body


async def test_a_body_at_the_size_limit_runs_and_one_byte_more_is_413(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async with gateway(emulators, tmp_path, max_request_bytes=2048) as (_, http):
        headers = {"content-type": "application/json"}
        at_limit = await http.post("/graphql", content=body_of_size(2048), headers=headers)
        over = await http.post("/graphql", content=body_of_size(2049), headers=headers)

    assert at_limit.status_code == 200
    assert at_limit.json()["data"]["appInfo"]["version"]
    assert over.status_code == 413
    assert codes(over) == ["PAYLOAD_TOO_LARGE"]
    assert over.json()["errors"][0]["extensions"]["limit"] == 2048


async def test_a_streamed_body_without_length_is_cut_off_at_the_limit(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1024

    async with gateway(emulators, tmp_path, max_request_bytes=4096) as (_, http):
        response = await http.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )

    assert response.status_code == 413


async def test_cyrillic_travels_as_utf8_not_escapes(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ diagnosticReports(first: 1) { totalCount } }"})

    message = response.json()["errors"][0]["message"]
    assert message.encode() in response.content  # not \\uXXXX escapes


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b'{"query": "{ __typename }", "variables": {"n": 123456789012345678901234567890}}',
            "a 100-bit integer",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"n": NaN, "m": 1e400}}',
            "NaN and a number past a double",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"s": "\\ud800"}}',
            "an escaped lone surrogate",
        ),
        (
            b'{"query": "{ appInfo { version } }", "query": "{ __typename }"}',
            "a repeated key: the last wins",
        ),
    ],
)
async def test_json_that_only_the_standard_library_reads_is_read_as_it_reads_it(
    client: httpx.AsyncClient, content: bytes, problem: str
) -> None:
    response = await post_raw(client, content)

    assert response.status_code == 200, problem
    assert response.json() == {"data": {"__typename": "Query"}}, problem
