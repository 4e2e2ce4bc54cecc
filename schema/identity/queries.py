"""Identity queries: the viewer and the privacy policy."""

from __future__ import annotations

import strawberry

from schema.context import Info
from schema.identity.types import PrivacyPolicy, Viewer


@strawberry.type
class IdentityQuery:
    @strawberry.field(description="The signed-in customer; null when signed out.")
    def me(self, info: Info) -> Viewer | None:
        viewer = info.context.viewer
        return Viewer.from_record(viewer) if viewer is not None else None

    @strawberry.field(description="The privacy policy in force (SET-5).")
    def privacy_policy(self, info: Info) -> PrivacyPolicy:
        return PrivacyPolicy.from_record(info.context.services.policy)
