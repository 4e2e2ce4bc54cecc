"""Tables of the gateway's store. Migrations in ``migrations/versions`` create them; the
models are the typed way the code reads and writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.store.types import UtcDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every table."""


class AuditEvent(Base):
    """Something a person did that must be traceable later (ACC-OPS-1, credential changes)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    """Who acted: ``user:<id>``, ``apikey:<id>``, ``system``."""
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    """What it was done to (an account number, a user id)."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str] = mapped_column(String(64), default="")


class User(Base):
    """A customer's credentials. The login starts as the account number (AUTH-1)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    login: Mapped[str] = mapped_column(String(64))
    login_key: Mapped[str] = mapped_column(String(64), unique=True)
    """The login folded for comparison (case, ё)."""
    account_number: Mapped[str] = mapped_column(String(10), unique=True)
    """The account registered with; it has credentials while this row exists (REG-1)."""
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    credentials_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LinkedAccount(Base):
    """An account a user sees in the app (the registered one and those added, ACC-1)."""

    __tablename__ = "user_accounts"
    __table_args__ = (UniqueConstraint("user_id", "account_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_number: Mapped[str] = mapped_column(String(10), index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Contact(Base):
    """A user's e-mail or phone: the confirmed value, and a new value awaiting its code
    (the confirmed one stays usable for recovery until the new one is confirmed)."""

    __tablename__ = "contacts"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    """``email`` or ``phone``."""
    value: Mapped[str | None] = mapped_column(String(254))
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pending_value: Mapped[str | None] = mapped_column(String(254))
    pending_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Consent(Base):
    """Consent to personal-data processing (REG-2, 152-ФЗ): kept after the credentials are
    deleted, as evidence, attributed by account number."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    account_number: Mapped[str] = mapped_column(String(10), index=True)
    policy_version: Mapped[str] = mapped_column(String(32))
    text_sha256: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(32))
    """Where it was given: ``web``, ``mobile``, ``partner`` or ``unknown``."""
    client_address: Mapped[str] = mapped_column(String(64), default="")


class Session(Base):
    """A signed-in device. Only the token's digest is stored."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """Absolute expiry; the idle expiry is ``last_seen_at`` + the idle timeout."""
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    client_address: Mapped[str] = mapped_column(String(64), default="")
    current_account: Mapped[str | None] = mapped_column(String(10))


class OneTimeCode(Base):
    """A confirmation code sent to an e-mail or phone; only its keyed digest is stored."""

    __tablename__ = "one_time_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    """``contact`` (confirm an e-mail/phone) or ``reset`` (password recovery)."""
    channel: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When it was used, burned by wrong tries, or superseded by a newer code."""


class ApiKey(Base):
    """A partner's or operator's key (GW-3). Only its digest is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    accounts: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Account numbers a partner may read (empty: none, unless the scope says all)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OutboxMessage(Base):
    """A write to a legacy system that must not be lost (readings, payment bookings).

    It is recorded before the first attempt, so a crash between the customer's request and
    the upstream's answer loses nothing; ``dedup_key`` is sent upstream as its idempotency
    key, so a repeated delivery is harmless (MTR-7, DESIGN.md "Writes that must not be lost").
    """

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    """The upstream idempotency key (metering's ``request_id``, billing's ``ExternalId``)."""
    subject: Mapped[str] = mapped_column(String(64), index=True)
    """What the write is about (a meter id): writes of one subject go out in order."""
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    params_sha256: Mapped[str] = mapped_column(String(64))
    """Digest of the request, to tell a repeat from a reused idempotency key."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    """``pending``, ``delivered``, ``rejected`` (the upstream refused it) or ``dead``."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DiagnosticReport(Base):
    """What a client app reported about itself for the developers (SET-6)."""

    __tablename__ = "diagnostic_reports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    account_number: Mapped[str | None] = mapped_column(String(10), index=True)
    app_version: Mapped[str] = mapped_column(String(40))
    os: Mapped[str] = mapped_column(String(80))
    device: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(String(4000), default="")
    request_id: Mapped[str] = mapped_column(String(64), default="")


class CardPayment(Base):
    """A card payment a customer started (PAY-2..5): the gateway's record of it, from the
    idempotency key that created it to billing's booking.

    The row is written *before* the acquirer is called, under a unique (user, key) pair, so
    that concurrent duplicates of one request find it instead of paying twice; the acquirer
    gets the row's id as its ``Idempotence-Key`` and billing gets ``external_id``.
    """

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    """Who started it; kept as NULL when the credentials are deleted (the payment stays)."""
    idempotency_key: Mapped[str] = mapped_column(String(64))
    params_sha256: Mapped[str] = mapped_column(String(64))
    """Digest of the request, to tell a repeat from a reused idempotency key."""
    account_number: Mapped[str] = mapped_column(String(10), index=True)
    supplier_group: Mapped[int] = mapped_column(Integer)
    """Billing's group 1–4."""
    amount_kopecks: Mapped[int] = mapped_column(BigInteger)
    """The amount in kopecks (SQLite has no exact decimal type)."""
    return_url: Mapped[str] = mapped_column(String(2048))
    """Where the client asked its customer to be sent back to."""
    status: Mapped[str] = mapped_column(String(16), index=True)
    """``pending``, ``succeeded``, ``booked``, ``canceled`` or ``failed``."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped on every status change (subscriptions deliver each one)."""
    reason: Mapped[str] = mapped_column(String(64), default="")
    """Why it was canceled or failed: the acquirer's reason code or one of ours."""
    reason_party: Mapped[str] = mapped_column(String(32), default="")
    acquirer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirmation_url: Mapped[str | None] = mapped_column(String(2048))
    creation_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Held by the request that is creating it at the acquirer right now."""
    creation_error: Mapped[str] = mapped_column(String(64), default="")
    """The acquirer's refusal code when it refused to create it (the replayed answer)."""
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    """Billing's ``ExternalId``: a booking repeated any number of times books once."""
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    booking: Mapped[str] = mapped_column(String(16), default="none")
    """``none``, ``queued`` (in the outbox), ``posted`` (billing accepted it) or ``booked``."""
    billing_payment_id: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    booked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attention: Mapped[str] = mapped_column(String(300), default="")
    """Why reconciliation could not repair it (empty: nothing for a human to do)."""
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When reconciliation last asked the acquirer or billing about it."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class PaymentTransition(Base):
    """One status change of a payment, in order: what live subscriptions replay and what
    support reads when a customer asks what happened."""

    __tablename__ = "payment_transitions"
    __table_args__ = (UniqueConstraint("payment_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(32))
    """What moved it: ``start``, ``webhook``, ``return_page``, ``reconciliation``, ``booking``."""
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class AcquirerEvent(Base):
    """A verified webhook notification of the acquirer, stored once per payment and event:
    a duplicate delivery finds it and changes nothing (PAY-5)."""

    __tablename__ = "acquirer_events"
    __table_args__ = (UniqueConstraint("acquirer_id", "event"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    acquirer_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(48))
    delivery_id: Mapped[str] = mapped_column(String(64), default="")
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(32))
    """``applied``, ``no_change`` (already known), ``unknown_payment`` or ``mismatch``."""
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class PersistedOperation(Base):
    """A GraphQL document registered for one API key (``lkk apikey allow``, GW-3): the only
    documents a partner key may run, sent by their id instead of their text."""

    __tablename__ = "persisted_operations"

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the document's text, in hex (sent as ``documentId: "sha256:<hex>"``)."""
    document: Mapped[str] = mapped_column(String)
    operation_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiKeyLimits(Base):
    """Rate limits set for one API key; a key without a row (or a NULL) has the defaults
    of the settings (``LKK_API_KEY_REQUESTS_PER_MINUTE``, ``LKK_API_KEY_HOURLY_COST_BUDGET``)."""

    __tablename__ = "api_key_limits"

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    hourly_cost_budget: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
