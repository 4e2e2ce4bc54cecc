"""The identity journeys of the product: register, sign in and out, confirm contacts,
recover a password, change credentials, and the contact centre's reset.

Rules live in :mod:`gateway.identity.rules`; this module orders them, talks to the store and
to billing, SMS and mail, and applies the limits of AUTH-4.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.billing import BillingClient
from adapters.errors import LegacyError, UpstreamUnavailable
from adapters.notify import MailClient, SmsClient
from gateway.clock import Clock
from gateway.errors import DomainError, ErrorCode, collect
from gateway.identity import rules
from gateway.identity.codes import Codes, Purpose, Verdict
from gateway.identity.messages import code_letter, code_sms
from gateway.identity.sessions import Client, NewSession, Sessions, Viewer
from gateway.security.passwords import Passwords
from gateway.security.ratelimit import Limit, RateLimiter
from gateway.store.audit import audit
from gateway.store.db import Store
from gateway.store.models import Consent, Contact, LinkedAccount, User
from gateway.system.policy import PrivacyPolicy

logger = logging.getLogger(__name__)


class ContactChannel(StrEnum):
    """Where codes can go."""

    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True)
class IdentityLimits:
    """The AUTH-4 limits (settings ``LKK_SIGN_IN_*``, ``LKK_CODE*``)."""

    sign_in_failures: Limit
    sign_in_address_failures: Limit
    code_cooldown: Limit
    codes_per_hour: Limit
    codes_per_address: Limit
    reset_attempts: Limit


@dataclass(frozen=True)
class ContactState:
    """A user's e-mail or phone as the client shows it."""

    channel: ContactChannel
    value: str | None
    confirmed_at: datetime | None
    pending_value: str | None


@dataclass(frozen=True)
class CodeSent:
    """Where a code went, and when another may be asked for."""

    contact: ContactState
    expires_in: timedelta
    resend_after: timedelta


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in (or registration)."""

    session: NewSession
    needs_contact: bool
    """No confirmed e-mail or phone: offer to add one (AUTH-2)."""


@dataclass(frozen=True)
class Operator:
    """Who acts through an operator API key (ACC-OPS-1)."""

    key_id: uuid.UUID
    name: str


class IdentityService:
    """Registration, sign-in, sessions, contacts, recovery, credential changes."""

    def __init__(
        self,
        *,
        store: Store,
        billing: BillingClient,
        sms: SmsClient,
        mail: MailClient,
        passwords: Passwords,
        limiter: RateLimiter,
        limits: IdentityLimits,
        sessions: Sessions,
        codes: Codes,
        policy: PrivacyPolicy,
        clock: Clock,
    ) -> None:
        self.store = store
        self.billing = billing
        self.sms = sms
        self.mail = mail
        self.passwords = passwords
        self.limiter = limiter
        self.limits = limits
        self.sessions = sessions
        self.codes = codes
        self.policy = policy
        self.clock = clock
        self._background: set[asyncio.Task[None]] = set()

    # --- registration and sign-in -------------------------------------------------------

    async def register(
        self,
        *,
        account_number: str,
        owner_surname: str,
        password: str,
        password_confirmation: str,
        consent: bool,
        policy_version: str,
        client: Client,
    ) -> SignedIn:
        """Create credentials for an account whose owner is who they say (REG-1, REG-2),
        and sign in."""
        number = account_number.strip()
        collect(
            lambda: rules.check_account_number(account_number),
            lambda: rules.check_password(password),
            lambda: _same_password(password, password_confirmation),
            lambda: _consented(consent),
            lambda: self._current_policy(policy_version) if consent else None,
        )
        await self._check_owner(number, owner_surname)
        password_hash = await self.passwords.hash(password)
        now = self.clock.now()
        try:
            async with self.store.session() as db:
                if await self._registered(db, number):
                    raise DomainError(ErrorCode.ACCOUNT_ALREADY_REGISTERED, "accountNumber")
                user = User(
                    id=uuid.uuid4(),
                    login=number,
                    login_key=rules.login_key(number),
                    account_number=number,
                    password_hash=password_hash,
                    created_at=now,
                    credentials_changed_at=now,
                )
                db.add(user)
                await db.flush()  # the rows below refer to it
                db.add(LinkedAccount(user_id=user.id, account_number=number, linked_at=now))
                db.add(
                    Consent(
                        user_id=user.id,
                        account_number=number,
                        policy_version=self.policy.version,
                        text_sha256=self.policy.text_sha256,
                        accepted_at=now,
                        channel=client.channel,
                        client_address=client.address[:64],
                    )
                )
                audit(db, now, f"user:{user.id}", "user.registered", number)
                await db.flush()
                session = await self.sessions.open(db, user, client)
        except IntegrityError as exc:  # a parallel registration of the same account won
            logger.warning("registration conflict: %s", exc.orig)
            raise DomainError(ErrorCode.ACCOUNT_ALREADY_REGISTERED, "accountNumber") from exc
        logger.info("registered", extra={"user_id": str(user.id)})
        return SignedIn(session=session, needs_contact=True)

    async def _check_owner(self, number: str, surname: str) -> None:
        try:
            accounts = await self.billing.get_accounts([number])
        except UpstreamUnavailable as exc:
            raise DomainError(ErrorCode.SERVICE_UNAVAILABLE) from exc
        account = accounts.get(number)
        if account is None or not rules.surname_matches(account.owner_name, surname):
            raise DomainError(ErrorCode.ACCOUNT_OR_SURNAME_MISMATCH, "ownerSurname")

    def _current_policy(self, version: str) -> None:
        if version.strip() != self.policy.version:
            raise DomainError(ErrorCode.POLICY_VERSION_OUTDATED, "policyVersion")

    async def sign_in(self, login: str, password: str, client: Client) -> SignedIn:
        """Open a session for a login or an account number and its password (AUTH-1, 4)."""
        key = rules.login_key(login)
        async with self.store.session() as db:
            user = await self._find_user(db, login)
        lock_keys = [("login", key), ("address", client.address)]
        if user is not None:
            lock_keys.append(("user", str(user.id)))
        if await self._locked(lock_keys):
            raise DomainError(ErrorCode.SIGN_IN_LOCKED, "login")
        if user is None:
            await self.passwords.verify_nothing(password)
            await self._count_failure(lock_keys)
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, "password")
        if not await self.passwords.verify(user.password_hash, password):
            await self._count_failure(lock_keys)
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, "password")
        await self.limiter.reset(self.limits.sign_in_failures, "login", key)
        await self.limiter.reset(self.limits.sign_in_failures, "user", str(user.id))
        async with self.store.session() as db:
            fresh = await db.get(User, user.id)
            if fresh is None:  # deleted by an operator in between
                raise DomainError(ErrorCode.INVALID_CREDENTIALS, "password")
            if self.passwords.needs_rehash(fresh.password_hash):
                fresh.password_hash = await self.passwords.hash(password)
            session = await self.sessions.open(db, fresh, client)
            confirmed = await self._confirmed_contacts(db, fresh.id)
        return SignedIn(session=session, needs_contact=not confirmed)

    async def _find_user(self, db: AsyncSession, login: str) -> User | None:
        key = rules.login_key(login)
        condition = User.login_key == key
        if rules.ACCOUNT_NUMBER.match(login.strip()):
            condition = or_(condition, User.account_number == login.strip())
        found = (await db.execute(select(User).where(condition))).scalars().all()
        # a login equal to a login wins over an account number (logins cannot be other
        # customers' account numbers, so at most one of each exists)
        return next((u for u in found if u.login_key == key), found[0] if found else None)

    async def _locked(self, keys: list[tuple[str, str]]) -> bool:
        for kind, value in keys:
            limit = (
                self.limits.sign_in_address_failures
                if kind == "address"
                else self.limits.sign_in_failures
            )
            if value and await self.limiter.is_exhausted(limit, kind, value):
                return True
        return False

    async def _count_failure(self, keys: list[tuple[str, str]]) -> None:
        for kind, value in keys:
            limit = (
                self.limits.sign_in_address_failures
                if kind == "address"
                else self.limits.sign_in_failures
            )
            if value:
                await self.limiter.hit(limit, kind, value)

    async def authenticate(self, token: str) -> Viewer | None:
        """The viewer of a session token, or None."""
        return await self.sessions.authenticate(token)

    async def sign_out(self, viewer: Viewer) -> None:
        """End the viewer's session on the server (AUTH-3)."""
        await self.sessions.revoke(viewer.session_id)
        await self.sessions.cache.changed(viewer.user_id)

    # --- contacts ----------------------------------------------------------------------

    async def contacts_of_users(
        self, user_ids: list[uuid.UUID]
    ) -> list[dict[ContactChannel, ContactState]]:
        """Each user's e-mail and phone as saved, in the order asked (one query)."""
        found: dict[uuid.UUID, dict[ContactChannel, ContactState]] = {u: {} for u in user_ids}
        async with self.store.reading_session() as db:
            rows = await db.execute(select(Contact).where(Contact.user_id.in_(user_ids)))
            for row in rows.scalars():
                found[row.user_id][ContactChannel(row.channel)] = _contact_state(row)
        return [found[u] for u in user_ids]

    async def request_contact_code(
        self, viewer: Viewer, channel: ContactChannel, value: str, client: Client
    ) -> CodeSent:
        """Save a new e-mail or phone and send it a code (CONT-1..3, SET-3)."""
        target = _normalize(channel, value)
        await self._spend_code_budget(("target", channel.value, target), client)
        async with self.store.session() as db:
            contact = await db.get(Contact, (viewer.user_id, channel.value))
            if contact is None:
                contact = Contact(user_id=viewer.user_id, channel=channel.value)
                db.add(contact)
            contact.pending_value = target
            contact.pending_at = self.clock.now()
            issued = await self.codes.issue(
                db, viewer.user_id, Purpose.CONTACT, channel.value, target
            )
            state = _contact_state(contact)
        await self._deliver(channel, target, Purpose.CONTACT, issued.code)
        return CodeSent(
            contact=state,
            expires_in=issued.expires_in,
            resend_after=timedelta(seconds=self.limits.code_cooldown.seconds),
        )

    async def confirm_contact(
        self, viewer: Viewer, channel: ContactChannel, code: str
    ) -> ContactState:
        """Confirm the saved e-mail or phone with its code."""
        async with self.store.session() as db:
            contact = await db.get(Contact, (viewer.user_id, channel.value))
            if contact is None or not contact.pending_value:
                raise DomainError(ErrorCode.NO_PENDING_CONTACT, "channel")
            verdict = await self.codes.check(
                db, viewer.user_id, Purpose.CONTACT, channel.value, contact.pending_value, code
            )
            if verdict is Verdict.ACCEPTED:
                contact.value = contact.pending_value
                contact.confirmed_at = self.clock.now()
                contact.pending_value = None
                contact.pending_at = None
                audit(db, self.clock.now(), f"user:{viewer.user_id}", "contact.confirmed", "")
                return _contact_state(contact)
        raise DomainError(_verdict_error(verdict), "code")

    # --- recovery ----------------------------------------------------------------------

    async def request_password_reset(
        self, login: str, channel: ContactChannel, client: Client
    ) -> None:
        """Send a recovery code to the login's confirmed contact of that channel (REC-1).

        The answer is the same whether or not the login exists and has that channel
        confirmed: limits are keyed by what was typed, and the lookup and the sending
        happen after the answer, in the background, so that even its timing tells nothing.
        """
        key = rules.login_key(login)
        await self._spend_code_budget(("reset", channel.value, key), client)
        task = asyncio.create_task(self._send_reset_code(login, channel))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_reset_code(self, login: str, channel: ContactChannel) -> None:
        try:
            async with self.store.session() as db:
                user = await self._find_user(db, login)
                contact = (
                    await db.get(Contact, (user.id, channel.value)) if user is not None else None
                )
                if user is None or contact is None or contact.confirmed_at is None:
                    logger.info("password reset asked for nothing to reset")
                    return
                assert contact.value is not None
                issued = await self.codes.issue(
                    db, user.id, Purpose.RESET, channel.value, contact.value
                )
            await self._deliver(channel, contact.value, Purpose.RESET, issued.code)
        except DomainError as exc:
            logger.warning("password reset code not delivered: %s", exc.code)

    async def reset_password(
        self,
        *,
        login: str,
        channel: ContactChannel,
        code: str,
        new_password: str,
        new_password_confirmation: str,
    ) -> None:
        """Set a new password with a recovery code; every session ends (REC-1, AUTH-3).

        A wrong code, an unknown login and a login without that contact get one answer;
        tries are limited per login and channel whether or not the login exists.
        """
        collect(
            lambda: rules.check_password(new_password, "newPassword"),
            lambda: _same_password(
                new_password, new_password_confirmation, "newPasswordConfirmation"
            ),
        )
        attempts = (self.limits.reset_attempts, "reset", channel.value, rules.login_key(login))
        if await self.limiter.is_exhausted(*attempts):
            raise DomainError(ErrorCode.CODE_ATTEMPTS_EXCEEDED, "code")
        password_hash = await self.passwords.hash(new_password)
        reset_for: uuid.UUID | None = None
        async with self.store.session() as db:
            user = await self._find_user(db, login)
            contact = await db.get(Contact, (user.id, channel.value)) if user else None
            verdict = Verdict.MISSING
            if user is not None and contact is not None and contact.value:
                verdict = await self.codes.check(
                    db, user.id, Purpose.RESET, channel.value, contact.value, code
                )
            if verdict is Verdict.ACCEPTED and user is not None:
                now = self.clock.now()
                user.password_hash = password_hash
                user.credentials_changed_at = now
                await self.sessions.revoke_all(db, user.id)
                audit(db, now, f"user:{user.id}", "password.reset", user.account_number)
                await self.limiter.reset(self.limits.sign_in_failures, "user", str(user.id))
                reset_for = user.id
        if reset_for is not None:  # committed: the sessions end on every replica now
            await self.sessions.cache.changed(reset_for)
            return
        await self.limiter.hit(*attempts)
        if verdict is Verdict.BURNED or await self.limiter.is_exhausted(*attempts):
            raise DomainError(ErrorCode.CODE_ATTEMPTS_EXCEEDED, "code")
        raise DomainError(
            ErrorCode.CODE_INVALID, "code", "Неверный код или срок его действия истёк."
        )

    # --- settings ----------------------------------------------------------------------

    async def change_credentials(
        self,
        viewer: Viewer,
        *,
        current_password: str,
        new_login: str | None,
        new_password: str | None,
        new_password_confirmation: str | None,
    ) -> str:
        """Change the login and/or the password, then sign out everywhere (SET-2, AUTH-3).
        Returns the login now in force."""
        new_login = new_login.strip() if new_login else None
        if not new_login and not new_password:
            raise DomainError(ErrorCode.NOTHING_TO_CHANGE)
        collect(
            lambda: rules.check_login(new_login) if new_login else None,
            lambda: rules.check_password(new_password, "newPassword") if new_password else None,
            lambda: (
                _same_password(
                    new_password or "", new_password_confirmation or "", "newPasswordConfirmation"
                )
                if new_password
                else None
            ),
        )
        failures = [("user", str(viewer.user_id))]
        if await self._locked(failures):
            raise DomainError(ErrorCode.SIGN_IN_LOCKED, "currentPassword")
        async with self.store.session() as db:
            user = await db.get(User, viewer.user_id)
            assert user is not None, "a live session has a user"
            password_hash = user.password_hash
        if not await self.passwords.verify(password_hash, current_password):
            await self._count_failure(failures)
            raise DomainError(ErrorCode.CURRENT_PASSWORD_INVALID, "currentPassword")
        new_hash = await self.passwords.hash(new_password) if new_password else None
        now = self.clock.now()
        try:
            async with self.store.session() as db:
                user = await db.get(User, viewer.user_id)
                assert user is not None
                if new_login:
                    await self._check_login_free(db, user, new_login)
                    user.login = new_login
                    user.login_key = rules.login_key(new_login)
                if new_hash:
                    user.password_hash = new_hash
                user.credentials_changed_at = now
                await self.sessions.revoke_all(db, user.id)
                changed = [k for k, v in (("login", new_login), ("password", new_hash)) if v]
                audit(db, now, f"user:{user.id}", "credentials.changed", "", {"changed": changed})
                login = user.login
        except IntegrityError as exc:  # a parallel change took the login
            raise DomainError(ErrorCode.LOGIN_TAKEN, "newLogin") from exc
        await self.sessions.cache.changed(viewer.user_id)
        return login

    async def _check_login_free(self, db: AsyncSession, user: User, login: str) -> None:
        key = rules.login_key(login)
        if rules.ACCOUNT_NUMBER.match(login) and login != user.account_number:
            raise DomainError(ErrorCode.LOGIN_TAKEN, "newLogin")
        taken = await db.scalar(select(User.id).where(User.login_key == key, User.id != user.id))
        if taken is not None:
            raise DomainError(ErrorCode.LOGIN_TAKEN, "newLogin")

    # --- contact centre ----------------------------------------------------------------

    async def reset_customer_credentials(
        self, operator: Operator, account_number: str, reason: str
    ) -> None:
        """Delete a customer's credentials so the account can be registered again
        (ACC-OPS-1). Consents stay as evidence; the act is audited."""
        number = rules.check_account_number(account_number)
        if not reason.strip():
            raise DomainError(ErrorCode.REASON_REQUIRED, "reason")
        async with self.store.session() as db:
            user = (
                await db.execute(select(User).where(User.account_number == number))
            ).scalar_one_or_none()
            if user is None:
                raise DomainError(ErrorCode.CUSTOMER_NOT_FOUND, "accountNumber")
            user_id = user.id
            await db.execute(delete(User).where(User.id == user_id))
            audit(
                db,
                self.clock.now(),
                f"apikey:{operator.key_id}",
                "credentials.reset_by_operator",
                number,
                {"reason": reason.strip()[:500], "operator": operator.name, "user": str(user.id)},
            )
        await self.sessions.cache.changed(user_id)
        logger.info("credentials reset by operator", extra={"operator": operator.name})

    # --- helpers -------------------------------------------------------------------------

    async def _registered(self, db: AsyncSession, number: str) -> bool:
        found = await db.scalar(select(User.id).where(User.account_number == number))
        return found is not None

    async def _confirmed_contacts(self, db: AsyncSession, user_id: uuid.UUID) -> int:
        rows = await db.execute(
            select(Contact.channel).where(
                Contact.user_id == user_id, Contact.confirmed_at.is_not(None)
            )
        )
        return len(rows.all())

    async def _spend_code_budget(self, key: tuple[str, ...], client: Client) -> None:
        limits = self.limits
        cooldown = limits.code_cooldown.seconds > 0
        if cooldown and await self.limiter.is_exhausted(limits.code_cooldown, *key):
            raise DomainError(ErrorCode.CODE_RESEND_COOLDOWN, "value")
        if await self.limiter.is_exhausted(limits.codes_per_hour, *key):
            raise DomainError(ErrorCode.CODE_HOURLY_LIMIT, "value")
        if client.address and await self.limiter.is_exhausted(
            limits.codes_per_address, client.address
        ):
            raise DomainError(ErrorCode.CODE_HOURLY_LIMIT, "value")
        if cooldown:
            await self.limiter.hit(limits.code_cooldown, *key)
        await self.limiter.hit(limits.codes_per_hour, *key)
        if client.address:
            await self.limiter.hit(limits.codes_per_address, client.address)

    async def _deliver(
        self, channel: ContactChannel, target: str, purpose: Purpose, code: str
    ) -> None:
        minutes = int(self.codes.ttl.total_seconds() // 60)
        masked = (
            rules.mask_phone(target)
            if channel is ContactChannel.PHONE
            else rules.mask_email(target)
        )
        try:
            if channel is ContactChannel.PHONE:
                await self.sms.send(target, code_sms(purpose.value, code))
            else:
                letter = code_letter(purpose.value, code, minutes)
                await self.mail.send(target, letter.subject, letter.text, letter.html)
        except LegacyError as exc:
            logger.warning("code not delivered to %s: %s", masked, exc)
            raise DomainError(ErrorCode.DELIVERY_FAILED, "value") from exc
        logger.info(
            "code sent",
            extra={"channel": channel.value, "to": masked, "purpose": purpose.value},
        )

    async def drain(self) -> None:
        """Wait for background deliveries (shutdown, tests)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


def _same_password(password: str, confirmation: str, field: str = "passwordConfirmation") -> None:
    if password != confirmation:
        raise DomainError(ErrorCode.PASSWORD_MISMATCH, field)


def _consented(consent: bool) -> None:
    if not consent:
        raise DomainError(ErrorCode.CONSENT_REQUIRED, "consent")


def _normalize(channel: ContactChannel, value: str) -> str:
    if channel is ContactChannel.EMAIL:
        return rules.normalize_email(value)
    return rules.normalize_phone(value)


def _contact_state(row: Contact) -> ContactState:
    return ContactState(
        channel=ContactChannel(row.channel),
        value=row.value,
        confirmed_at=row.confirmed_at,
        pending_value=row.pending_value,
    )


def _verdict_error(verdict: Verdict) -> ErrorCode:
    return {
        Verdict.WRONG: ErrorCode.CODE_INVALID,
        Verdict.BURNED: ErrorCode.CODE_ATTEMPTS_EXCEEDED,
        Verdict.MISSING: ErrorCode.CODE_EXPIRED,
        Verdict.ACCEPTED: ErrorCode.INVALID_INPUT,
    }[verdict]
