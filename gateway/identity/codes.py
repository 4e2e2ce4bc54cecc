"""One-time confirmation codes (CONT-1..3, REC-1): six CSPRNG digits, stored as a keyed
digest, alive for five minutes, burned by five wrong tries; a new code supersedes the
previous one of the same purpose and channel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.clock import Clock
from gateway.security.tokens import code_digest, new_code, same
from gateway.store.models import OneTimeCode


class Purpose(StrEnum):
    """What a code proves."""

    CONTACT = "contact"
    """Owning a new e-mail or phone."""
    RESET = "reset"
    """Owning the confirmed contact of a login that forgot its password."""


class Verdict(StrEnum):
    """The outcome of entering a code."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    BURNED = "burned"
    """Too many wrong tries: even the right code is refused now."""
    MISSING = "missing"
    """No live code: never sent, expired, used or superseded."""


@dataclass(frozen=True)
class IssuedCode:
    """A code to send; the plain code exists only until it is handed to the SMS or mail."""

    code: str
    target: str
    expires_in: timedelta


class Codes:
    """Issues and checks codes inside the caller's transaction."""

    def __init__(self, clock: Clock, secret_key: str, *, ttl: timedelta, max_attempts: int):
        self.clock = clock
        self.secret_key = secret_key
        self.ttl = ttl
        self.max_attempts = max_attempts

    async def issue(
        self, db: AsyncSession, user_id: uuid.UUID, purpose: Purpose, channel: str, target: str
    ) -> IssuedCode:
        """A new code for ``target``; earlier live codes of this purpose and channel die."""
        now = self.clock.now()
        await db.execute(
            update(OneTimeCode)
            .where(
                OneTimeCode.user_id == user_id,
                OneTimeCode.purpose == purpose.value,
                OneTimeCode.channel == channel,
                OneTimeCode.consumed_at.is_(None),
            )
            .values(consumed_at=now)
        )
        code = new_code()
        db.add(
            OneTimeCode(
                id=uuid.uuid4(),
                user_id=user_id,
                purpose=purpose.value,
                channel=channel,
                target=target,
                code_hash=code_digest(self.secret_key, purpose.value, target, code),
                attempts=0,
                created_at=now,
                expires_at=now + self.ttl,
            )
        )
        return IssuedCode(code=code, target=target, expires_in=self.ttl)

    async def check(
        self,
        db: AsyncSession,
        user_id: uuid.UUID,
        purpose: Purpose,
        channel: str,
        target: str,
        code: str,
    ) -> Verdict:
        """Spend one try of the newest code sent to ``target``; the right code is used up."""
        now = self.clock.now()
        latest = (
            await db.execute(
                select(OneTimeCode)
                .where(
                    OneTimeCode.user_id == user_id,
                    OneTimeCode.purpose == purpose.value,
                    OneTimeCode.channel == channel,
                    OneTimeCode.target == target,
                )
                .order_by(OneTimeCode.created_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if latest is None:
            return Verdict.MISSING
        if latest.attempts >= self.max_attempts:
            return Verdict.BURNED
        if latest.consumed_at is not None or latest.expires_at <= now:
            return Verdict.MISSING
        # Reserve the try atomically, so that parallel guesses cannot exceed the limit.
        reserved = await db.execute(
            update(OneTimeCode)
            .where(
                OneTimeCode.id == latest.id,
                OneTimeCode.attempts < self.max_attempts,
                OneTimeCode.consumed_at.is_(None),
            )
            .values(attempts=OneTimeCode.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if reserved.rowcount != 1:  # type: ignore[attr-defined]
            return Verdict.BURNED
        expected = code_digest(self.secret_key, purpose.value, target, code.strip())
        if same(latest.code_hash, expected):
            await db.execute(
                update(OneTimeCode).where(OneTimeCode.id == latest.id).values(consumed_at=now)
            )
            return Verdict.ACCEPTED
        if latest.attempts + 1 >= self.max_attempts:
            await db.execute(
                update(OneTimeCode).where(OneTimeCode.id == latest.id).values(consumed_at=now)
            )
            return Verdict.BURNED
        return Verdict.WRONG
