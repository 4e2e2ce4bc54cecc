"""Argon2id password hashing (AUTH-4: a memory-hard hash).

Hashing and verifying cost tens of milliseconds of CPU on purpose, so they run in a worker
thread and never stall the event loop. :meth:`Passwords.verify_nothing` spends the same time
for an unknown login, so that the answer's timing does not reveal whether a login exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True)
class Argon2Cost:
    """Argon2id parameters; the defaults are argon2-cffi's RFC 9106 "low memory" profile."""

    time_cost: int = 3
    memory_cost_kib: int = 65536
    parallelism: int = 4


class Passwords:
    """Hashes and checks passwords with Argon2id."""

    def __init__(self, cost: Argon2Cost | None = None) -> None:
        cost = cost or Argon2Cost()
        self._hasher = PasswordHasher(
            time_cost=cost.time_cost,
            memory_cost=cost.memory_cost_kib,
            parallelism=cost.parallelism,
            type=Type.ID,
        )
        self._decoy = self._hasher.hash("decoy password, never valid")

    async def hash(self, password: str) -> str:
        """The encoded Argon2id hash of ``password`` (salt and parameters included)."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches ``encoded``."""
        return await asyncio.to_thread(self._verify, encoded, password)

    async def verify_nothing(self, password: str) -> None:
        """Spend the time of one verification (for an unknown login)."""
        await asyncio.to_thread(self._verify, self._decoy, password)

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with other parameters than today's."""
        return self._hasher.check_needs_rehash(encoded)

    def _verify(self, encoded: str, password: str) -> bool:
        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
