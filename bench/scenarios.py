"""The benchmark scenarios of issue 9 and the request each target answers them with.

A scenario is a list of targets measured back to back under the same load: our gateway
(``lkk``, and variants such as ``lkk-cold``), the upstream itself (``direct``) and the peer
gateways (``hive``, ``hive-cache``, ``apollo``). Each target sends the query shape that is
natural to it for the **same data**: our schema nests meters under the signed-in customer's
accounts; Hive Gateway's schema is generated from metering's OpenAPI and Apollo's mirrors the
REST API, so their answers keep metering's legacy formats (``dd.mm.yyyy``, decimal commas,
Russian words) that ours turns into clean types.

To add a scenario (statements, subscriptions): write a function returning a
:class:`Scenario` and list it in :func:`all_scenarios`; the runner does the rest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.load import Request

JSON = {"Content-Type": "application/json"}

DASHBOARD = (
    "{ me { accounts { number address "
    "debts { housing housingSeparate solidWaste capitalRepair penalties total asOf stale } "
    "meters { id serial status zones digits canSubmit stale lastReadings { zone value date } } "
    "} currentAccount { number } } }"
)
"""The dashboard of tests/gateway/accounts/test_accounts_api.py: every account of the
customer with its address, debts and meters with their last readings."""

READINGS_PAGE = (
    "query($n: AccountNumber!) { account(number: $n) { meters { id readings(first: 10) "
    "{ totalCount edges { node { date zone value source replaced } } } } } }"
)
"""One page of a meter's readings: account 7200000004 has one meter (100006), whose meters
are cached, so the page itself is the one metering call of the operation."""

SUBMIT = (
    "mutation($input: SubmitReadingsInput!) { submitReadings(input: $input) "
    "{ submission { id status values { zone value } consumption { zone kwh } } "
    "errors { code field message } } }"
)

HIVE_READINGS = (
    '{ listReadings(meterId: "100006", limit: 10) { ... on ReadingsPage '
    "{ total items { date zone value source status } } } }"
)
HIVE_METERS = (
    '{ listMetersBulk(account: ["7200000001", "7200000004"]) { ... on MeterListBulk '
    "{ accounts { account meters { id serial status zones digits "
    "last_readings { T1 { value date } T2 { value date } T3 { value date } } } } } } }"
)
HIVE_SUBMIT = (
    'mutation { submitReadings(meterId: "100006", input: {request_id: "hive-{{n}}", '
    'values: {T1: "%s"}}) { ... on Submission { request_id status replaced '
    "readings { zone value previous consumption } } } }"
)
APOLLO_READINGS = (
    '{ meterReadings(meterId: "100006", limit: 10) '
    "{ total items { date zone value source status } } }"
)
APOLLO_METERS = (
    '{ meters(accounts: ["7200000001", "7200000004"]) { account meters '
    "{ id serial status zones digits last_readings { zone value date } } } }"
)
APOLLO_SUBMIT = (
    'mutation { submitReadings(meterId: "100006", requestId: "apollo-{{n}}", '
    'values: [{zone: "T1", value: "%s"}]) { request_id status replaced '
    "readings { zone value previous consumption } } }"
)


def graphql_body(query: str, variables: Mapping[str, Any] | None = None) -> str:
    """A GraphQL POST body."""
    return json.dumps({"query": query, "variables": dict(variables or {})}, ensure_ascii=False)


@dataclass(frozen=True)
class Endpoints:
    """Where everything listens in this run, and the demo customer's session."""

    gateway: str
    hive: str
    apollo: str
    metering: str
    billing: str
    token: str
    reading_value: str
    """A plausible reading of meter 100006 (previous period + 100 kWh), e.g. ``15665.7``."""


@dataclass(frozen=True)
class Target:
    """One system answering a scenario."""

    name: str
    server: str | None
    """Which server must run (a key of the runner's servers); None: the upstream itself."""
    request: Request
    description: str
    faults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Fault knobs set at the emulators for this target (system -> knobs)."""
    settle_seconds: float = 0.0
    """Wait after warming up and setting the faults (e.g. for a cache lifetime to lapse)."""
    pid: str = "metering"
    """For an upstream target: which emulator process is the system under test."""


@dataclass(frozen=True)
class Scenario:
    """Targets measured back to back at each concurrency."""

    name: str
    title: str
    targets: tuple[Target, ...]
    connections: tuple[int, ...] = (1, 50)
    faults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Fault knobs for every target of the scenario."""
    notes: tuple[str, ...] = ()
    rounds: int = 1
    """Rounds of every target (``--rounds`` overrides): more where a target of the issue is a
    ratio to a peer that the machine's minute-to-minute swings could turn over."""


def _ours(
    endpoints: Endpoints,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    expect: str = '"data":{',
) -> Request:
    return Request(
        url=f"{endpoints.gateway}/graphql",
        method="POST",
        body=graphql_body(query, variables),
        headers={**JSON, "Authorization": f"Bearer {endpoints.token}"},
        expect=expect,
    )


def _peer(url: str, query: str, expect: str) -> Request:
    return Request(url=url, method="POST", body=graphql_body(query), headers=JSON, expect=expect)


def passthrough(e: Endpoints) -> Scenario:
    """(1) One metering call per operation: a page of meter 100006's readings."""
    return Scenario(
        name="passthrough",
        title="Pass-through: one metering call (a page of 10 readings)",
        targets=(
            Target(
                "direct",
                None,
                Request(url=f"{e.metering}/meters/100006/readings?limit=10", expect='"items"'),
                "GET /api/v1/meters/100006/readings?limit=10 at the metering emulator",
            ),
            Target(
                "lkk",
                "lkk",
                _ours(e, READINGS_PAGE, {"n": "7200000004"}),
                "our gateway: account(number).meters.readings(first: 10), signed in",
            ),
            Target(
                "hive",
                "hive",
                _peer(e.hive, HIVE_READINGS, '"total":'),
                "Hive Gateway over the Mesh-composed OpenAPI: listReadings",
            ),
            Target(
                "apollo",
                "apollo",
                _peer(e.apollo, APOLLO_READINGS, '"total":'),
                "Apollo Server + RESTDataSource: meterReadings",
            ),
        ),
        notes=(
            "Ours also authenticates the session (store) and checks that the account is the "
            "customer's (store, cached meters) before the metering call; the peers do neither.",
        ),
        rounds=3,
    )


def _dashboard_peers(e: Endpoints) -> tuple[Target, ...]:
    return (
        Target(
            "direct",
            None,
            Request(
                url=f"{e.metering}/meters?account=7200000001&account=7200000004",
                expect='"accounts"',
            ),
            "the metering part straight from metering: GET /meters?account=…&account=…",
        ),
        Target(
            "hive",
            "hive",
            _peer(e.hive, HIVE_METERS, '"accounts":'),
            "Hive Gateway, the metering part: listMetersBulk (one call)",
        ),
        Target(
            "hive-cache",
            "hive-cache",
            _peer(e.hive, HIVE_METERS, '"accounts":'),
            "Hive Gateway with its response cache (shared, 300 s), the metering part",
        ),
        Target(
            "apollo",
            "apollo",
            _peer(e.apollo, APOLLO_METERS, '"meters":'),
            "Apollo Server + RESTDataSource, the metering part (one call)",
        ),
    )


def dashboard_warm(e: Endpoints) -> Scenario:
    """(2) The dashboard of a customer with 2 accounts, cache warm."""
    return Scenario(
        name="dashboard-warm",
        title="Dashboard of 2 accounts (debts, meters, last readings), warm cache",
        targets=(
            Target(
                "lkk",
                "lkk",
                _ours(e, DASHBOARD),
                "our gateway: the whole dashboard (billing + metering), cache warm; the same "
                "request again within 5 s is answered from the response cache",
            ),
            Target(
                "lkk-run",
                "lkk-run",
                _ours(e, DASHBOARD),
                "our gateway running every operation: upstream cache warm, response cache off "
                "(LKK_RESPONSE_CACHE_SECONDS=0)",
            ),
            *_dashboard_peers(e),
        ),
        notes=(
            "Ours answers the whole dashboard (billing's addresses and debts too); the peers "
            "and the direct call answer only its metering part, which is all they can reach.",
            "`lkk` keeps the customer's answer up to 5 s and as long as its upstream data "
            "stay fresh (gateway/http/response_cache.py), as `hive-cache` keeps its answers; "
            "`lkk-run` runs the operation for every request.",
        ),
    )


def dashboard_cold(e: Endpoints) -> Scenario:
    """(2) The same dashboard with every operation missing the cache."""
    return Scenario(
        name="dashboard-cold",
        title="Dashboard of 2 accounts, cold cache (every operation misses)",
        targets=(
            Target(
                "lkk-cold",
                "lkk-cold",
                _ours(e, DASHBOARD),
                "our gateway with a cache that keeps nothing (bench/cold.py)",
            ),
            *(t for t in _dashboard_peers(e) if t.name != "hive-cache"),
        ),
    )


STATEMENTS = (
    '{ account(number: "7200000001") { statements(first: 12) { pageInfo { hasNextPage } '
    "edges { node { period openingBalance charged penalties paid closingBalance dueDate "
    "stale receiptUrl charges { service group supplier tariff volume unit amount } } } } } }"
)
"""A page of 12 statements with their charge lines and receipt links (CHG-1)."""


def _get_statements(account: str, months: int) -> str:
    today = dt.datetime.now(dt.UTC).date()
    first = today.replace(day=1)
    for _ in range(months):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:b="urn:lkk:billing:v1"><soap:Body><b:GetStatements>'
        f"<b:AccountNumber>{account}</b:AccountNumber>"
        f"<b:FromPeriod>{first:%Y-%m}</b:FromPeriod><b:ToPeriod>{today:%Y-%m}</b:ToPeriod>"
        "</b:GetStatements></soap:Body></soap:Envelope>"
    )


def statements(e: Endpoints) -> Scenario:
    """(3) A page of 12 statements, warm and cold."""
    return Scenario(
        name="statements",
        title="Statements page of 12 periods (charges, receipt links)",
        targets=(
            Target(
                "direct",
                None,
                Request(
                    url=e.billing,
                    method="POST",
                    body=_get_statements("7200000001", 13),
                    headers={"Content-Type": "text/xml; charset=utf-8"},
                    expect="GetStatementsResponse",
                ),
                "SOAP GetStatements of the last 13 months (12 published) at billing",
                pid="billing",
            ),
            Target("lkk", "lkk", _ours(e, STATEMENTS), "our gateway, cache warm"),
            Target(
                "lkk-run",
                "lkk-run",
                _ours(e, STATEMENTS),
                "our gateway, upstream cache warm, response cache off",
            ),
            Target("lkk-cold", "lkk-cold", _ours(e, STATEMENTS), "our gateway, cache off"),
        ),
        notes=(
            "Hive Gateway and Apollo Server are composed over metering only; statements live "
            "in billing's SOAP service, so they have no peer here.",
        ),
    )


def submit_readings(e: Endpoints) -> Scenario:
    """(4) submitReadings of meter 100006, a new idempotency key per request."""
    value = e.reading_value
    comma = value.replace(".", ",")
    variables = {
        "input": {
            "meterId": "100006",
            "values": [{"zone": "SINGLE", "value": value}],
            "idempotencyKey": "bench-{{n}}",
        }
    }
    return Scenario(
        name="submit-readings",
        title="submitReadings (one meter, new idempotency key each time)",
        connections=(1, 10),
        targets=(
            Target(
                "direct",
                None,
                Request(
                    url=f"{e.metering}/meters/100006/readings",
                    method="POST",
                    body=json.dumps({"request_id": "direct-{{n}}", "values": {"T1": comma}}),
                    headers=JSON,
                    expect='"result":"ok"',
                ),
                "POST /api/v1/meters/100006/readings at metering",
            ),
            Target(
                "lkk",
                "lkk",
                _ours(e, SUBMIT, variables, expect='"status":"ACCEPTED"'),
                "our gateway: window and plausibility rules, outbox row, delivery to metering",
            ),
            Target(
                "hive",
                "hive",
                _peer(e.hive, HIVE_SUBMIT % comma, '"request_id":'),
                "Hive Gateway: the OpenAPI POST as a mutation",
            ),
            Target(
                "apollo",
                "apollo",
                _peer(e.apollo, APOLLO_SUBMIT % comma, '"request_id":'),
                "Apollo Server + RESTDataSource: the POST as a mutation",
            ),
        ),
        notes=(
            "Every request submits the same value with a new key: metering accepts each and "
            "replaces the earlier one of the period (MTR-4). Ours checks the window and the "
            "value against the previous period (metering's readings), writes the outbox row "
            "and delivers it inline; the peers only forward the POST.",
        ),
    )


def billing_down(e: Endpoints) -> Scenario:
    """(5) The warm dashboard while billing is down: stale values from the cache."""
    return Scenario(
        name="billing-down",
        title="Dashboard, warm cache, billing healthy vs. billing down (stale-if-error)",
        targets=(
            Target("lkk-healthy", "lkk", _ours(e, DASHBOARD), "billing healthy, cache warm"),
            Target(
                "lkk-billing-down",
                "lkk",
                _ours(e, DASHBOARD, expect='"stale":true'),
                "billing answers every call with its proxy's 503; balances past their 30 s "
                "lifetime are served stale (and the answer must say stale: true)",
                faults={"billing": {"outage": True}},
                settle_seconds=31.0,
            ),
        ),
    )


def upstream_latency(e: Endpoints) -> Scenario:
    """(5) Every upstream 300 ms slower."""
    slow = {"metering": {"latency_ms": 300}, "billing": {"latency_ms": 300}}
    return Scenario(
        name="latency-300ms",
        title="Dashboard with 300 ms added at billing and metering",
        faults=slow,
        targets=(
            Target("lkk", "lkk", _ours(e, DASHBOARD), "our gateway, cache warm"),
            Target("lkk-cold", "lkk-cold", _ours(e, DASHBOARD), "our gateway, cache off"),
            *_dashboard_peers(e),
        ),
    )


def all_scenarios(e: Endpoints) -> list[Scenario]:
    """Every scenario available now, in the order the runner measures them.

    (6), payment subscriptions over WebSockets, is not a request/response load and has its
    own driver (:mod:`bench.subscriptions`)."""
    return [
        passthrough(e),
        dashboard_warm(e),
        dashboard_cold(e),
        statements(e),
        upstream_latency(e),
        billing_down(e),
        submit_readings(e),
    ]
