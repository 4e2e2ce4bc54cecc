"""Types of the identity domain."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from gateway.identity import service
from gateway.identity.sessions import Viewer as ViewerRecord
from gateway.system.policy import PrivacyPolicy as PolicyRecord
from schema.accounts.types import Account, accounts_of
from schema.context import Info


@strawberry.enum(description="Where confirmation codes go.")
class ContactChannel(Enum):
    EMAIL = strawberry.enum_value("email", description="E-mail (Latin addresses, no .рф).")
    PHONE = strawberry.enum_value("phone", description="Russian mobile phone, by SMS.")

    def to_domain(self) -> service.ContactChannel:
        """The domain's channel."""
        return service.ContactChannel[self.name]


@strawberry.type(description="A customer's e-mail or phone.")
class Contact:
    value: str | None = strawberry.field(
        description="The confirmed value; null until one is confirmed."
    )
    confirmed: bool = strawberry.field(
        description="Whether a confirmed value exists (usable for recovery, CONT-3)."
    )
    confirmed_at: datetime | None = strawberry.field(description="When it was confirmed.")
    pending_value: str | None = strawberry.field(
        description="A new value saved and awaiting its code (SET-3); the confirmed one "
        "stays in force until it is confirmed."
    )

    @classmethod
    def from_state(cls, state: service.ContactState) -> Contact:
        """Map the domain record."""
        return cls(
            value=state.value,
            confirmed=state.confirmed_at is not None,
            confirmed_at=state.confirmed_at,
            pending_value=state.pending_value,
        )


@strawberry.type(description="The signed-in customer.")
class Viewer:
    login: str = strawberry.field(
        description="The login; it starts as the account number (AUTH-1)."
    )
    record: strawberry.Private[ViewerRecord]

    @strawberry.field(description="E-mail for codes and recovery; null if never given.")
    async def email(self, info: Info) -> Contact | None:
        return await _contact(info, self.record, service.ContactChannel.EMAIL)

    @strawberry.field(description="Mobile phone for codes and recovery; null if never given.")
    async def phone(self, info: Info) -> Contact | None:
        return await _contact(info, self.record, service.ContactChannel.PHONE)

    @strawberry.field(description="The customer's accounts, in the order they were added.")
    async def accounts(self, info: Info) -> list[Account]:
        return accounts_of(await info.context.loaders.accounts_by_user.load(self.record.user_id))

    @strawberry.field(
        description="The account the app shows now (kept per session, SET-1); null only "
        "when the customer has no account left."
    )
    async def current_account(self, info: Info) -> Account | None:
        numbers = await info.context.loaders.accounts_by_user.load(self.record.user_id)
        current = self.record.current_account
        chosen = current if current in numbers else (numbers[0] if numbers else None)
        return accounts_of([chosen])[0] if chosen is not None else None

    @classmethod
    def from_record(cls, record: ViewerRecord, login: str | None = None) -> Viewer:
        """Map the session's viewer."""
        return cls(login=login or record.login, record=record)


async def _contact(
    info: Info, viewer: ViewerRecord, channel: service.ContactChannel
) -> Contact | None:
    contacts = await info.context.loaders.contacts_by_user.load(viewer.user_id)
    state = contacts.get(channel)
    return Contact.from_state(state) if state is not None else None


@strawberry.type(description="The privacy policy customers accept (SET-5, REG-2).")
class PrivacyPolicy:
    version: str = strawberry.field(
        description="Version to send back in RegisterInput.policyVersion."
    )
    text: str = strawberry.field(description="The full text, in Russian.")
    url: str = strawberry.field(description="Public page of the policy.")

    @classmethod
    def from_record(cls, policy: PolicyRecord) -> PrivacyPolicy:
        """Map the domain record."""
        return cls(version=policy.version, text=policy.text, url=policy.url)
