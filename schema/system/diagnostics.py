"""reportDiagnostics (SET-6) and the operators' view of the reports."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.permission import PermissionExtension

from gateway.system.diagnostics import Report
from schema.connections import Connection, page_bounds
from schema.context import Info
from schema.errors import UserError, possible_codes, user_errors
from schema.permissions import HasScope
from schema.scalars import AccountNumber


@strawberry.input(description="What the app says about itself, for the developers (SET-6).")
class ReportDiagnosticsInput:
    app_version: str = strawberry.field(description="The app's version, e.g. 3.14.2 (build 512).")
    os: str = strawberry.field(description="Operating system and its version.")
    device: str = strawberry.field(description="Device model or browser.")
    details: str = strawberry.field(
        default="", description="Free text: what went wrong, a log excerpt (at most 4000)."
    )


@strawberry.type(description="Result of reportDiagnostics.")
class ReportDiagnosticsPayload:
    report_id: strawberry.ID | None = strawberry.field(description="The stored report's id.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.type(description="A diagnostic report, as operators see it.")
class DiagnosticReport:
    id: strawberry.ID = strawberry.field(description="The report's id.")
    received_at: datetime = strawberry.field(description="When the gateway received it.")
    account_number: AccountNumber | None = strawberry.field(
        description="The reporter's current account, when signed in."
    )
    app_version: str = strawberry.field(description="The app's version.")
    os: str = strawberry.field(description="Operating system.")
    device: str = strawberry.field(description="Device or browser.")
    channel: str = strawberry.field(description="web, mobile or partner.")
    details: str = strawberry.field(description="What the app said.")

    @classmethod
    def of(cls, report: Report) -> DiagnosticReport:
        """Map the domain's report."""
        return cls(
            id=strawberry.ID(str(report.id)),
            received_at=report.received_at,
            account_number=AccountNumber(report.account_number) if report.account_number else None,
            app_version=report.app_version,
            os=report.os,
            device=report.device,
            channel=report.channel,
            details=report.details,
        )


@strawberry.type(name="DiagnosticReportConnection", description="A page of reports.")
class DiagnosticReportConnection(Connection[DiagnosticReport]):
    pass


@strawberry.type
class DiagnosticsQuery:
    @strawberry.field(
        description="Operators (scope `operator`): the apps' diagnostic reports, newest first.",
        extensions=[PermissionExtension(permissions=[HasScope("operator")])],
    )
    async def diagnostic_reports(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        account_number: AccountNumber | None = None,
    ) -> DiagnosticReportConnection:
        offset, limit = page_bounds(first, after)
        reports, total = await info.context.services.diagnostics.page(offset, limit, account_number)
        items = [DiagnosticReport.of(r) for r in reports]
        return DiagnosticReportConnection.of(items, offset, total)  # type: ignore[return-value]


@strawberry.type
class DiagnosticsMutation:
    @strawberry.mutation(
        description="Send the app's diagnostics (SET-6); signed in or not, within an hourly "
        "allowance." + possible_codes("INVALID_INPUT", "TOO_MANY_REPORTS")
    )
    async def report_diagnostics(
        self, info: Info, input: ReportDiagnosticsInput
    ) -> ReportDiagnosticsPayload:
        ctx = info.context
        report_id, errors = await user_errors(
            lambda: ctx.services.diagnostics.report(
                ctx.viewer, ctx.client, input.app_version, input.os, input.device, input.details
            )
        )
        shown = strawberry.ID(str(report_id)) if report_id is not None else None
        return ReportDiagnosticsPayload(report_id=shown, errors=errors)
