"""The gateway about itself: ``appInfo`` (SET-6)."""

from schema.system.types import AppInfo, SystemQuery, UpstreamState, UpstreamStatus

__all__ = ["AppInfo", "SystemQuery", "UpstreamState", "UpstreamStatus"]
