"""Declared access: Strawberry permission classes on fields (CONVENTIONS 6)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from schema.context import Info
from schema.errors import GraphQLErrorCode


class IsSignedIn(BasePermission):
    """The request carries a live customer session."""

    message = "Войдите в личный кабинет."
    error_extensions = {"code": GraphQLErrorCode.UNAUTHENTICATED.value}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class HasScope(BasePermission):
    """The request carries an API key with a scope."""

    message = "Недостаточно прав для этой операции."
    error_extensions = {"code": GraphQLErrorCode.FORBIDDEN.value}

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and principal.has_scope(self.scope)
