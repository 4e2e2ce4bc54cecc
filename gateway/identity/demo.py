"""The demo's own data in the gateway (DESIGN.md, "Demo data"): the registered customer of
account 7200000001 and the demo API keys. Seeded at start in demo mode only, idempotently."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from gateway.clock import Clock
from gateway.identity.apikeys import ApiKeys
from gateway.identity.rules import login_key
from gateway.security.passwords import Passwords
from gateway.store.db import Store
from gateway.store.models import Consent, Contact, LinkedAccount, User
from gateway.system.policy import PrivacyPolicy

DEMO_ACCOUNT = "7200000001"
DEMO_PASSWORD = "Demo2026!"
DEMO_EMAIL = "m.ivanova@example.ru"
DEMO_KEYS: tuple[tuple[str, str, list[str], list[str]], ...] = (
    ("demo-partner-key", "Демо-партнёр", ["accounts:read"], ["7200000001", "7200000002"]),
    ("demo-operator-key", "Демо-оператор контактного центра", ["operator"], []),
)


async def seed_demo(
    store: Store, passwords: Passwords, api_keys: ApiKeys, policy: PrivacyPolicy, clock: Clock
) -> None:
    """Create the demo customer and keys unless they exist."""
    now = clock.now()
    async with store.session() as db:
        exists = await db.scalar(select(User.id).where(User.account_number == DEMO_ACCOUNT))
        if exists is None:
            user = User(
                id=uuid.uuid4(),
                login=DEMO_ACCOUNT,
                login_key=login_key(DEMO_ACCOUNT),
                account_number=DEMO_ACCOUNT,
                password_hash=await passwords.hash(DEMO_PASSWORD),
                created_at=now,
                credentials_changed_at=now,
            )
            db.add(user)
            await db.flush()  # the rows below refer to it
            db.add(LinkedAccount(user_id=user.id, account_number=DEMO_ACCOUNT, linked_at=now))
            db.add(Contact(user_id=user.id, channel="email", value=DEMO_EMAIL, confirmed_at=now))
            db.add(
                Consent(
                    user_id=user.id,
                    account_number=DEMO_ACCOUNT,
                    policy_version=policy.version,
                    text_sha256=policy.text_sha256,
                    accepted_at=now,
                    channel="demo",
                    client_address="",
                )
            )
    for secret, name, scopes, accounts in DEMO_KEYS:
        if not await api_keys.exists(secret):
            await api_keys.create(name, scopes, accounts=accounts, secret=secret)
