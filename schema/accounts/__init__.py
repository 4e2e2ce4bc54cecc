"""Accounts, meters and readings in the schema."""

from schema.accounts.mutations import AccountsMutation
from schema.accounts.queries import AccountsQuery

__all__ = ["AccountsMutation", "AccountsQuery"]
