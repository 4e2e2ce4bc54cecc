"""Builds the one ``strawberry.Schema`` of the gateway from the domain modules."""

from __future__ import annotations

import hashlib

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from schema.identity import IdentityMutation, IdentityQuery
from schema.scalars import SCALARS
from schema.system import SystemQuery


@strawberry.type(description="Everything a client can read.")
class Query(IdentityQuery, SystemQuery):
    pass


@strawberry.type(description="Everything a client can change.")
class Mutation(IdentityMutation):
    pass


def build_schema() -> strawberry.Schema:
    """The schema with the extensions every request needs (parsed and validated documents
    are cached: most clients send the same few operations)."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)],
    )


def sdl(schema: strawberry.Schema) -> str:
    """The schema definition language text, as checked in as ``schema.graphql``."""
    return schema.as_str() + "\n"


def fingerprint(schema: strawberry.Schema) -> str:
    """A short stable hash of the SDL (``AppInfo.schemaVersion``)."""
    return hashlib.sha256(sdl(schema).encode()).hexdigest()[:12]
