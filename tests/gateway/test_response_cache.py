"""Customers' answers kept for a few seconds (gateway/http/response_cache.py): given again
without running the operation, never when anything in them is live, stale or the customer's
own change could be missing, and still paid for from the hourly budget.
Across replicas over Redis: tests/scale/test_identity_across_replicas.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from gateway.services import Services
from tests.gateway.accounts.test_accounts_api import DASHBOARD, SELECT, calls, forget_calls
from tests.gateway.conftest import settings_for
from tests.gateway.identity.test_viewer_cache import store_statements
from tests.gateway.journeys import link, sign_in_demo
from tests.gateway.readings.test_readings_api import HISTORY
from tests.support import graphql

ME = "query Me { me { login currentAccount { number } accounts { number } } }"
BUDGET = "query { rateLimitInfo { remaining } }"


def services_of(app: Starlette) -> Services:
    services: Services = app.state.services
    return services


def kept_outcomes(app: Starlette, operation: str | None = None) -> int:
    """Operations answered from the response cache so far (the /metrics counter)."""
    counts = services_of(app).operations.counts
    return sum(
        n
        for (name, _, outcome), n in counts.items()
        if outcome == "kept" and operation in (None, name)
    )


async def remaining(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    answer = await graphql(client, BUDGET, headers=headers)
    value: int = answer["data"]["rateLimitInfo"]["remaining"]
    return value


def upstream_calls(emulators: EmulatorHost) -> int:
    return sum(sum(kinds.values()) for kinds in calls(emulators).values())


async def test_a_repeated_dashboard_is_given_again_without_running_it(
    client: httpx.AsyncClient, app: Starlette, emulators: EmulatorHost
) -> None:
    # Given a customer whose dashboard was read once
    headers = await sign_in_demo(client)
    first = await graphql(client, DASHBOARD, headers=headers)
    assert "errors" not in first, first
    forget_calls(emulators)

    # When it is read again at once
    second = await graphql(client, DASHBOARD, headers=headers)

    # Then the same answer came back from the response cache, with no upstream call
    assert second == first
    assert kept_outcomes(app) == 1
    assert services_of(app).responses.stats.hits == 1
    assert upstream_calls(emulators) == 0


async def test_the_customers_own_change_is_in_the_next_answer(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # Given a customer with two accounts whose answer is kept
    headers = await sign_in_demo(client)
    await link(client, headers, "7200000004", "Иванова")
    await graphql(client, ME, headers=headers)
    kept = await graphql(client, ME, headers=headers)
    assert kept_outcomes(app, "Me") == 1
    before = kept["data"]["me"]["currentAccount"]["number"]
    other = "7200000004" if before == "7200000001" else "7200000001"

    # When they switch the current account (a mutation)
    switched = await graphql(client, SELECT, {"number": other}, headers=headers)
    assert switched["data"]["selectAccount"]["errors"] == []

    # Then the next answer is run again and shows it
    after = await graphql(client, ME, headers=headers)
    assert after["data"]["me"]["currentAccount"]["number"] == other
    assert kept_outcomes(app) == 1


CONTACTS = "query Contacts { me { email { value confirmed } phone { value confirmed } } }"
REQUEST_CODE = """
mutation($value: String!) {
  requestContactCode(input: {channel: PHONE, value: $value}) { errors { code } }
}"""


async def test_any_mutation_of_the_customer_forgets_their_answers(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # Given a customer whose contacts answer is kept
    headers = await sign_in_demo(client)
    before = await graphql(client, CONTACTS, headers=headers)
    assert await graphql(client, CONTACTS, headers=headers) == before
    assert kept_outcomes(app) == 1

    # When they give a new phone number (a mutation with no cache of its own to forget)
    asked = await graphql(client, REQUEST_CODE, {"value": "+7 912 000-11-22"}, headers=headers)
    assert asked["data"]["requestContactCode"]["errors"] == [], asked

    # Then the next answer is run again and shows the number waiting for its code
    after = await graphql(client, CONTACTS, headers=headers)
    assert before["data"]["me"]["phone"] is None
    assert after["data"]["me"]["phone"] == {"value": None, "confirmed": False}  # not yet
    assert kept_outcomes(app) == 1


async def test_a_mutation_that_changes_no_session_or_account_leaves_them_remembered(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # Given a customer whose contacts answer is kept
    headers = await sign_in_demo(client)
    await graphql(client, CONTACTS, headers=headers)
    await graphql(client, CONTACTS, headers=headers)
    assert kept_outcomes(app) == 1

    # When they give a new phone number, and ask for their contacts again
    asked = await graphql(client, REQUEST_CODE, {"value": "+7 912 000-11-33"}, headers=headers)
    assert asked["data"]["requestContactCode"]["errors"] == [], asked
    with store_statements(app) as statements:
        after = await graphql(client, CONTACTS, headers=headers)

    # Then the answer is run again, but the session and the linked accounts come from memory
    assert after["data"]["me"]["phone"] == {"value": None, "confirmed": False}
    assert kept_outcomes(app) == 1
    assert statements, "the contacts are read from the store"
    assert not [s for s in statements if "FROM sessions" in s or "FROM user_accounts" in s]


async def test_an_answer_with_an_uncached_upstream_call_is_never_kept(
    client: httpx.AsyncClient, app: Starlette, emulators: EmulatorHost
) -> None:
    # Given a customer reading a page of a meter's readings (metering's paged history,
    # which no cache stands in front of)
    headers = await sign_in_demo(client)
    variables: dict[str, Any] = {"number": "7200000001", "first": 5}
    first = await graphql(client, HISTORY, variables, headers=headers)
    assert "errors" not in first, first
    forget_calls(emulators)

    # When they read it again
    second = await graphql(client, HISTORY, variables, headers=headers)

    # Then metering was asked again: the page is live data
    assert second == first
    assert calls(emulators)["metering"]
    assert kept_outcomes(app) == 0


async def test_a_stale_answer_is_kept_for_its_few_seconds_like_any_other(
    client: httpx.AsyncClient, app: Starlette, clock: Clock, emulators: EmulatorHost
) -> None:
    # Given a customer whose dashboard is cached upstream, then billing goes down and the
    # billing data ages past its lifetime
    headers = await sign_in_demo(client)
    await graphql(client, DASHBOARD, headers=headers)
    emulators.runtimes["billing"].faults.update({"outage": True})
    clock.advance(timedelta(minutes=10))

    # When the dashboard is read twice during the outage
    stale = await graphql(client, DASHBOARD, headers=headers)
    forget_calls(emulators)
    again = await graphql(client, DASHBOARD, headers=headers)

    # Then the stale answer (marked so) was kept: billing was not tried again
    assert "errors" not in stale, stale
    assert all(a["debts"]["stale"] for a in stale["data"]["me"]["accounts"])
    assert again == stale
    assert kept_outcomes(app) == 1
    assert upstream_calls(emulators) == 0

    # And once its few seconds have passed, the dashboard runs again (and would see billing
    # back as soon as its circuit breaker lets a call through)
    clock.advance(timedelta(seconds=6))
    later = await graphql(client, DASHBOARD, headers=headers)
    assert "errors" not in later, later
    assert kept_outcomes(app) == 1


async def test_live_fields_are_never_kept(client: httpx.AsyncClient, app: Starlette) -> None:
    headers = await sign_in_demo(client)
    for _ in range(2):
        assert "errors" not in await graphql(client, BUDGET, headers=headers)
        answer = await graphql(client, "{ me { login } appInfo { version } }", headers=headers)
        assert "errors" not in answer, answer
    assert services_of(app).responses.stats.kept == 0


async def test_a_kept_answer_is_charged_like_a_run_one(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    headers = await sign_in_demo(client)
    start = await remaining(client, headers)
    await graphql(client, ME, headers=headers)  # run
    after_run = await remaining(client, headers)
    await graphql(client, ME, headers=headers)  # kept
    after_kept = await remaining(client, headers)

    assert kept_outcomes(app) == 1
    assert start - after_run > 0
    assert after_run - after_kept == start - after_run


async def test_sessions_and_moved_clocks_do_not_share_answers(
    client: httpx.AsyncClient, app: Starlette, clock: Clock
) -> None:
    # Two sessions of one customer each run their first request
    first_session = await sign_in_demo(client)
    second_session = await sign_in_demo(client)
    await graphql(client, ME, headers=first_session)
    await graphql(client, ME, headers=second_session)
    assert kept_outcomes(app) == 0

    # The gateway's clock moves: what was kept before is not used
    clock.advance(timedelta(seconds=30))
    await graphql(client, ME, headers=first_session)
    assert kept_outcomes(app) == 0
    await graphql(client, ME, headers=first_session)
    assert kept_outcomes(app) == 1


async def test_the_same_request_sent_at_once_runs_once(
    client: httpx.AsyncClient, app: Starlette, emulators: EmulatorHost
) -> None:
    # Given a customer whose dashboard is warm upstream but not kept
    headers = await sign_in_demo(client)
    named = DASHBOARD.replace("query {", "query Dashboard {", 1)
    await graphql(client, DASHBOARD, headers=headers)
    forget_calls(emulators)

    # When the app sends the same request ten times at once
    answers = await asyncio.gather(*(graphql(client, named, headers=headers) for _ in range(10)))

    # Then one ran and the nine others were given its answer
    counts = services_of(app).operations.counts
    assert counts.get(("Dashboard", "query", "ok")) == 1
    assert kept_outcomes(app, "Dashboard") == 9
    assert all(answer == answers[0] for answer in answers)
    assert "errors" not in answers[0]


async def test_without_the_session_caches_invalidation_nothing_is_kept(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    # Given a gateway whose session cache is off (so no invalidation reaches kept answers)
    settings = settings_for(emulators, tmp_path, session_cache_seconds=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://gateway.test"
        ) as client:
            headers = await sign_in_demo(client)

            # When the same request is sent again, and then ten times at once
            await graphql(client, ME, headers=headers)
            await graphql(client, ME, headers=headers)
            await asyncio.gather(*(graphql(client, ME, headers=headers) for _ in range(10)))

        # Then every one of them ran
        assert kept_outcomes(app) == 0
        assert services_of(app).operations.counts.get(("Me", "query", "ok")) == 12
