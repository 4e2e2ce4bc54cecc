"""Identity in the schema: viewer, registration, sign-in, contacts, recovery, settings."""

from schema.identity.mutations import IdentityMutation
from schema.identity.queries import IdentityQuery

__all__ = ["IdentityMutation", "IdentityQuery"]
