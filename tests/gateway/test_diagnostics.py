"""reportDiagnostics (SET-6): stored within limits, readable by operators only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.host import EmulatorHost
from gateway.settings import Settings
from tests.gateway.conftest import settings_for
from tests.gateway.journeys import sign_in_demo
from tests.support import graphql

REPORT = """
mutation($input: ReportDiagnosticsInput!) {
  reportDiagnostics(input: $input) { reportId errors { code field message } }
}"""
REPORTS = """
query($number: AccountNumber) {
  diagnosticReports(first: 10, accountNumber: $number) {
    totalCount
    edges { node { accountNumber appVersion os device details channel } }
  }
}"""
OPERATOR = {"x-api-key": "demo-operator-key"}


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    """Three reports an hour, so the limit is reached quickly."""
    return settings_for(emulators, tmp_path, diagnostics_per_hour=3)


def report(**changes: str) -> dict[str, Any]:
    values = {"appVersion": "3.14.2", "os": "Android 15", "device": "Pixel 9", "details": ""}
    return {"input": {**values, **changes}}


async def test_a_signed_in_report_is_stored_and_operators_read_it(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)

    sent = await graphql(client, REPORT, report(details="упало на экране оплаты"), headers=headers)
    client.cookies.clear()
    seen = await graphql(client, REPORTS, {"number": "7200000001"}, headers=OPERATOR)

    assert sent["data"]["reportDiagnostics"]["errors"] == []
    assert sent["data"]["reportDiagnostics"]["reportId"]
    assert seen["data"]["diagnosticReports"]["totalCount"] == 1
    node = seen["data"]["diagnosticReports"]["edges"][0]["node"]
    assert node == {
        "accountNumber": "7200000001",
        "appVersion": "3.14.2",
        "os": "Android 15",
        "device": "Pixel 9",
        "details": "упало на экране оплаты",
        "channel": node["channel"],
    }


async def test_reports_are_for_operators_only(client: httpx.AsyncClient) -> None:
    customer = await sign_in_demo(client)

    as_customer = await graphql(client, REPORTS, headers=customer)
    client.cookies.clear()
    as_partner = await graphql(client, REPORTS, headers={"x-api-key": "demo-partner-key"})

    for body in (as_customer, as_partner):
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_bad_fields_and_the_hourly_allowance_are_refused(client: httpx.AsyncClient) -> None:
    empty = await graphql(client, REPORT, report(os="  ", device="x" * 121))
    accepted = [await graphql(client, REPORT, report()) for _ in range(3)]
    over = await graphql(client, REPORT, report())

    assert [e["field"] for e in empty["data"]["reportDiagnostics"]["errors"]] == ["os", "device"]
    assert all(a["data"]["reportDiagnostics"]["errors"] == [] for a in accepted)
    assert [e["code"] for e in over["data"]["reportDiagnostics"]["errors"]] == ["TOO_MANY_REPORTS"]
