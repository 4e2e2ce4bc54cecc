"""The gateway about itself: ``appInfo`` (SET-6)."""

from schema.system.diagnostics import DiagnosticsMutation, DiagnosticsQuery
from schema.system.types import AppInfo, SystemQuery, UpstreamState, UpstreamStatus

__all__ = [
    "DiagnosticsMutation",
    "DiagnosticsQuery",
    "AppInfo",
    "SystemQuery",
    "UpstreamState",
    "UpstreamStatus",
]
