"""Types and queries of the gateway's own state."""

from __future__ import annotations

from enum import Enum

import strawberry

from gateway.system import status
from schema.context import Info


@strawberry.enum(description="How a legacy system looks from the gateway right now.")
class UpstreamState(Enum):
    UP = "up"
    DEGRADED = strawberry.enum_value(
        "degraded", description="Answering slowly, or being tested again after an outage."
    )
    DOWN = strawberry.enum_value("down", description="Not answering; cached data may be stale.")


@strawberry.type(description="The state of one legacy system behind the gateway.")
class UpstreamStatus:
    name: str = strawberry.field(description="billing, metering, acquirer, sms or mail.")
    state: UpstreamState = strawberry.field(description="The result of the latest probe.")
    latency_ms: float | None = strawberry.field(
        description="Round-trip time of the probe in milliseconds; null when it failed."
    )

    @classmethod
    def from_health(cls, health: status.UpstreamHealth) -> UpstreamStatus:
        """Map the monitor's record to the public type."""
        return cls(
            name=health.name,
            state=UpstreamState(health.state.value),
            latency_ms=health.latency_ms,
        )


@strawberry.type(description="What the gateway tells a client about itself (SET-6).")
class AppInfo:
    version: str = strawberry.field(description="The gateway's release.")
    schema_version: str = strawberry.field(
        description="Fingerprint of this schema; it changes whenever the schema does."
    )

    @strawberry.field(description="Each legacy system with its state, probed just now.")
    async def upstreams(self, info: Info) -> list[UpstreamStatus]:
        return [UpstreamStatus.from_health(h) for h in await info.context.services.monitor.check()]


@strawberry.type
class SystemQuery:
    @strawberry.field(description="The gateway's version and the state of each upstream.")
    def app_info(self, info: Info) -> AppInfo:
        services = info.context.services
        return AppInfo(version=services.version, schema_version=services.schema_version)
