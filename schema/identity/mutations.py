"""Identity mutations. Each takes one ``input`` and returns a payload with ``errors``;
expected refusals are payload errors with a code and a Russian message (docs/errors.md)."""

from __future__ import annotations

import strawberry
from strawberry.permission import PermissionExtension

from gateway.identity.service import Operator, SignedIn
from gateway.security.web import SESSION_COOKIE
from schema.context import Info
from schema.errors import UserError, possible_codes, user_errors
from schema.identity.types import Contact, ContactChannel, Viewer
from schema.permissions import HasScope, IsSignedIn
from schema.scalars import AccountNumber


@strawberry.input(description="Registration with an account number (REG-1, REG-2).")
class RegisterInput:
    account_number: AccountNumber = strawberry.field(description="10-digit account number.")
    owner_surname: str = strawberry.field(
        description="The owner's surname only; case, ё/е and blanks do not matter."
    )
    password: str = strawberry.field(
        description='6–12 characters: Latin or Cyrillic letters, digits, ! " № ; % ? *'
    )
    password_confirmation: str = strawberry.field(description="The password again.")
    consent: bool = strawberry.field(
        description="Consent to personal-data processing under the privacy policy."
    )
    policy_version: str = strawberry.field(description="PrivacyPolicy.version accepted.")


@strawberry.type(description="Result of register: the new customer is signed in.")
class RegisterPayload:
    token: str | None = strawberry.field(description="Session token (Authorization: Bearer).")
    needs_contact: bool | None = strawberry.field(
        description="True: offer to add an e-mail or phone (AUTH-2)."
    )
    viewer: Viewer | None = strawberry.field(description="The new customer.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="Sign-in with a login or an account number (AUTH-1).")
class SignInInput:
    login: str = strawberry.field(description="Login or 10-digit account number.")
    password: str = strawberry.field(description="Password.")


@strawberry.type(description="Result of signIn; also sets the HttpOnly session cookie.")
class SignInPayload:
    token: str | None = strawberry.field(description="Session token (Authorization: Bearer).")
    needs_contact: bool | None = strawberry.field(
        description="True when no e-mail or phone is confirmed: offer «Да, я хочу указать» / "
        "«Нет, просто продолжить» and warn that recovery is impossible without one (AUTH-2)."
    )
    viewer: Viewer | None = strawberry.field(description="The signed-in customer.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.type(description="Result of signOut.")
class SignOutPayload:
    signed_out: bool = strawberry.field(description="The session is revoked on the server.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="Save an e-mail or phone and send it a code (CONT-1..3).")
class RequestContactCodeInput:
    channel: ContactChannel = strawberry.field(description="EMAIL or PHONE.")
    value: str = strawberry.field(
        description="Latin e-mail (no .рф), or a Russian mobile number in any usual spelling."
    )


@strawberry.type(description="Result of requestContactCode.")
class RequestContactCodePayload:
    contact: Contact | None = strawberry.field(description="The contact with its pending value.")
    code_expires_in_seconds: int | None = strawberry.field(description="Lifetime of the code.")
    resend_after_seconds: int | None = strawberry.field(
        description="When another code may be asked for."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="Confirm the saved e-mail or phone with its code.")
class ConfirmContactInput:
    channel: ContactChannel = strawberry.field(description="EMAIL or PHONE.")
    code: str = strawberry.field(description="The 6-digit code received.")


@strawberry.type(description="Result of confirmContact.")
class ConfirmContactPayload:
    contact: Contact | None = strawberry.field(description="The confirmed contact.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="«Забыли пароль?»: where to send a recovery code (REC-1).")
class RequestPasswordResetInput:
    login: str = strawberry.field(description="Login or account number.")
    channel: ContactChannel = strawberry.field(description="Send the code by EMAIL or PHONE.")


@strawberry.type(
    description="Result of requestPasswordReset: the same whether or not the login exists."
)
class RequestPasswordResetPayload:
    accepted: bool = strawberry.field(description="The request was taken.")
    message: str = strawberry.field(description="What to tell the customer, in Russian.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="Set a new password with the recovery code (REC-1).")
class ResetPasswordInput:
    login: str = strawberry.field(description="Login or account number, as in the request.")
    channel: ContactChannel = strawberry.field(description="Where the code was sent.")
    code: str = strawberry.field(description="The 6-digit code received.")
    new_password: str = strawberry.field(description="The new password (password rules).")
    new_password_confirmation: str = strawberry.field(description="The new password again.")


@strawberry.type(description="Result of resetPassword: every session of the user has ended.")
class ResetPasswordPayload:
    password_changed: bool = strawberry.field(description="The new password is in force.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="Change login and/or password (SET-2).")
class ChangeCredentialsInput:
    current_password: str = strawberry.field(description="The password in force.")
    new_login: str | None = strawberry.field(
        default=None, description="A new login (login rules; unique)."
    )
    new_password: str | None = strawberry.field(default=None, description="A new password.")
    new_password_confirmation: str | None = strawberry.field(
        default=None, description="The new password again."
    )


@strawberry.type(description="Result of changeCredentials: signed out everywhere (AUTH-3).")
class ChangeCredentialsPayload:
    login: str | None = strawberry.field(description="The login now in force.")
    signed_out: bool = strawberry.field(description="Every session has ended; sign in again.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="Contact centre: delete a customer's credentials (ACC-OPS-1).")
class ResetCustomerCredentialsInput:
    account_number: AccountNumber = strawberry.field(description="The customer's account.")
    reason: str = strawberry.field(description="Why (audited), e.g. the request number.")


@strawberry.type(description="Result of resetCustomerCredentials.")
class ResetCustomerCredentialsPayload:
    account_number: str | None = strawberry.field(
        description="The account that can be registered again."
    )
    reset: bool = strawberry.field(description="The credentials were deleted.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


RESET_REQUESTED = (
    "Если логин зарегистрирован и для него подтверждён выбранный способ связи, мы отправили "
    "код. Он действует 5 минут."
)


def _remember_session(info: Info, signed_in: SignedIn) -> None:
    response = info.context.response
    if response is None:
        return
    settings = info.context.services.settings
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.session.token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        secure=settings.session_cookie_secure,
        samesite="lax",
        path="/",
    )


def _forget_session(info: Info) -> None:
    response = info.context.response
    if response is not None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(
        description="Register with an account number, the owner's surname and a password; "
        "signs in."
        + possible_codes(
            "ACCOUNT_NUMBER_INVALID",
            "ACCOUNT_OR_SURNAME_MISMATCH",
            "ACCOUNT_ALREADY_REGISTERED",
            "PASSWORD_LENGTH",
            "PASSWORD_SPACES",
            "PASSWORD_CHARACTERS",
            "PASSWORD_MISMATCH",
            "CONSENT_REQUIRED",
            "POLICY_VERSION_OUTDATED",
            "SERVICE_UNAVAILABLE",
        )
    )
    async def register(self, info: Info, input: RegisterInput) -> RegisterPayload:
        ctx = info.context
        signed_in, errors = await user_errors(
            lambda: ctx.services.identity.register(
                account_number=input.account_number,
                owner_surname=input.owner_surname,
                password=input.password,
                password_confirmation=input.password_confirmation,
                consent=input.consent,
                policy_version=input.policy_version,
                client=ctx.client,
            )
        )
        if signed_in is None:
            return RegisterPayload(token=None, needs_contact=None, viewer=None, errors=errors)
        _remember_session(info, signed_in)
        return RegisterPayload(
            token=signed_in.session.token,
            needs_contact=signed_in.needs_contact,
            viewer=Viewer.from_record(signed_in.session.viewer),
            errors=[],
        )

    @strawberry.mutation(
        description="Sign in with a login or account number and the password."
        + possible_codes("INVALID_CREDENTIALS", "SIGN_IN_LOCKED")
    )
    async def sign_in(self, info: Info, input: SignInInput) -> SignInPayload:
        ctx = info.context
        signed_in, errors = await user_errors(
            lambda: ctx.services.identity.sign_in(input.login, input.password, ctx.client)
        )
        if signed_in is None:
            return SignInPayload(token=None, needs_contact=None, viewer=None, errors=errors)
        _remember_session(info, signed_in)
        return SignInPayload(
            token=signed_in.session.token,
            needs_contact=signed_in.needs_contact,
            viewer=Viewer.from_record(signed_in.session.viewer),
            errors=[],
        )

    @strawberry.mutation(description="Sign out: the session ends on the server (AUTH-3).")
    async def sign_out(self, info: Info) -> SignOutPayload:
        viewer = info.context.viewer
        if viewer is not None:
            await info.context.services.identity.sign_out(viewer)
        _forget_session(info)
        return SignOutPayload(signed_out=True, errors=[])

    @strawberry.mutation(
        description="Save an e-mail or phone and send it a 6-digit code."
        + possible_codes(
            "EMAIL_INVALID",
            "EMAIL_NOT_LATIN",
            "EMAIL_RF_UNSUPPORTED",
            "PHONE_INVALID",
            "CODE_RESEND_COOLDOWN",
            "CODE_HOURLY_LIMIT",
            "DELIVERY_FAILED",
        ),
        permission_classes=[IsSignedIn],
    )
    async def request_contact_code(
        self, info: Info, input: RequestContactCodeInput
    ) -> RequestContactCodePayload:
        ctx = info.context
        assert ctx.viewer is not None
        viewer = ctx.viewer
        sent, errors = await user_errors(
            lambda: ctx.services.identity.request_contact_code(
                viewer, input.channel.to_domain(), input.value, ctx.client
            )
        )
        if sent is None:
            return RequestContactCodePayload(
                contact=None, code_expires_in_seconds=None, resend_after_seconds=None, errors=errors
            )
        return RequestContactCodePayload(
            contact=Contact.from_state(sent.contact),
            code_expires_in_seconds=int(sent.expires_in.total_seconds()),
            resend_after_seconds=int(sent.resend_after.total_seconds()),
            errors=[],
        )

    @strawberry.mutation(
        description="Confirm the saved e-mail or phone with its code."
        + possible_codes(
            "NO_PENDING_CONTACT", "CODE_INVALID", "CODE_EXPIRED", "CODE_ATTEMPTS_EXCEEDED"
        ),
        permission_classes=[IsSignedIn],
    )
    async def confirm_contact(
        self, info: Info, input: ConfirmContactInput
    ) -> ConfirmContactPayload:
        ctx = info.context
        assert ctx.viewer is not None
        viewer = ctx.viewer
        state, errors = await user_errors(
            lambda: ctx.services.identity.confirm_contact(
                viewer, input.channel.to_domain(), input.code
            )
        )
        contact = Contact.from_state(state) if state is not None else None
        return ConfirmContactPayload(contact=contact, errors=errors)

    @strawberry.mutation(
        description="Send a recovery code to the login's confirmed e-mail or phone. Answers "
        "the same whether or not the login exists (AUTH-4)."
        + possible_codes("CODE_RESEND_COOLDOWN", "CODE_HOURLY_LIMIT")
    )
    async def request_password_reset(
        self, info: Info, input: RequestPasswordResetInput
    ) -> RequestPasswordResetPayload:
        ctx = info.context
        _, errors = await user_errors(
            lambda: ctx.services.identity.request_password_reset(
                input.login, input.channel.to_domain(), ctx.client
            )
        )
        return RequestPasswordResetPayload(
            accepted=not errors, message=RESET_REQUESTED if not errors else "", errors=errors
        )

    @strawberry.mutation(
        description="Set a new password with the recovery code; every session ends."
        + possible_codes(
            "CODE_INVALID",
            "CODE_ATTEMPTS_EXCEEDED",
            "PASSWORD_LENGTH",
            "PASSWORD_SPACES",
            "PASSWORD_CHARACTERS",
            "PASSWORD_MISMATCH",
        )
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> ResetPasswordPayload:
        ctx = info.context
        _, errors = await user_errors(
            lambda: ctx.services.identity.reset_password(
                login=input.login,
                channel=input.channel.to_domain(),
                code=input.code,
                new_password=input.new_password,
                new_password_confirmation=input.new_password_confirmation,
            )
        )
        return ResetPasswordPayload(password_changed=not errors, errors=errors)

    @strawberry.mutation(
        description="Change the login and/or the password; then every session ends (SET-2)."
        + possible_codes(
            "NOTHING_TO_CHANGE",
            "CURRENT_PASSWORD_INVALID",
            "SIGN_IN_LOCKED",
            "LOGIN_LENGTH",
            "LOGIN_CHARACTERS",
            "LOGIN_TAKEN",
            "PASSWORD_LENGTH",
            "PASSWORD_SPACES",
            "PASSWORD_CHARACTERS",
            "PASSWORD_MISMATCH",
        ),
        permission_classes=[IsSignedIn],
    )
    async def change_credentials(
        self, info: Info, input: ChangeCredentialsInput
    ) -> ChangeCredentialsPayload:
        ctx = info.context
        assert ctx.viewer is not None
        viewer = ctx.viewer
        login, errors = await user_errors(
            lambda: ctx.services.identity.change_credentials(
                viewer,
                current_password=input.current_password,
                new_login=input.new_login,
                new_password=input.new_password,
                new_password_confirmation=input.new_password_confirmation,
            )
        )
        if login is not None:
            _forget_session(info)
        return ChangeCredentialsPayload(login=login, signed_out=login is not None, errors=errors)

    @strawberry.mutation(
        description="Contact centre (API key with scope `operator`): delete a customer's "
        "credentials so the account can be registered again; audited (ACC-OPS-1)."
        + possible_codes("ACCOUNT_NUMBER_INVALID", "CUSTOMER_NOT_FOUND", "REASON_REQUIRED"),
        extensions=[PermissionExtension(permissions=[HasScope("operator")])],
    )
    async def reset_customer_credentials(
        self, info: Info, input: ResetCustomerCredentialsInput
    ) -> ResetCustomerCredentialsPayload:
        ctx = info.context
        assert ctx.principal is not None
        operator = Operator(ctx.principal.key_id, ctx.principal.name)
        _, errors = await user_errors(
            lambda: ctx.services.identity.reset_customer_credentials(
                operator, input.account_number, input.reason
            )
        )
        return ResetCustomerCredentialsPayload(
            account_number=None if errors else input.account_number.strip(),
            reset=not errors,
            errors=errors,
        )
