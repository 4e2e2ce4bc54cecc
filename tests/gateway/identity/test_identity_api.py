"""Identity journeys through GraphQL against the emulators (REG, AUTH, CONT, REC, SET, ACC-OPS).

Codes are read where a customer reads them: the SMS emulator's outbox and the mail
emulator's inbox.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from gateway.services import Services
from gateway.store.models import AuditEvent, Consent, User
from tests.gateway.conftest import settings_for
from tests.support import graphql, message_count, wait_for_code

POLICY = "2026-01"

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) { token needsContact viewer { login } errors { code field message } }
}"""
SIGN_IN = """
mutation($login: String!, $password: String!) {
  signIn(input: {login: $login, password: $password}) {
    token needsContact viewer { login email { value confirmed } } errors { code field message }
  }
}"""
ME = "{ me { login email { value confirmed pendingValue } phone { value confirmed } } }"
SIGN_OUT = "mutation { signOut { signedOut errors { code } } }"
REQUEST_CODE = """
mutation($channel: ContactChannel!, $value: String!) {
  requestContactCode(input: {channel: $channel, value: $value}) {
    contact { value confirmed pendingValue } codeExpiresInSeconds resendAfterSeconds
    errors { code field message }
  }
}"""
CONFIRM = """
mutation($channel: ContactChannel!, $code: String!) {
  confirmContact(input: {channel: $channel, code: $code}) {
    contact { value confirmed pendingValue } errors { code field message }
  }
}"""
REQUEST_RESET = """
mutation($login: String!, $channel: ContactChannel!) {
  requestPasswordReset(input: {login: $login, channel: $channel}) {
    accepted message errors { code field message }
  }
}"""
RESET = """
mutation($input: ResetPasswordInput!) {
  resetPassword(input: $input) { passwordChanged errors { code field message } }
}"""
CHANGE = """
mutation($input: ChangeCredentialsInput!) {
  changeCredentials(input: $input) { login signedOut errors { code field message } }
}"""
OPERATOR_RESET = """
mutation($number: AccountNumber!, $reason: String!) {
  resetCustomerCredentials(input: {accountNumber: $number, reason: $reason}) {
    accountNumber reset errors { code field message }
  }
}"""


def registration(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "accountNumber": "7200000002",
        "ownerSurname": "Петров",
        "password": "Secret12",
        "passwordConfirmation": "Secret12",
        "consent": True,
        "policyVersion": POLICY,
    }
    return {"input": {**values, **changes}}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def register(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    body = await graphql(client, REGISTER, registration(**changes))
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["register"]
    return payload


async def sign_in(client: httpx.AsyncClient, login: str, password: str) -> dict[str, Any]:
    body = await graphql(client, SIGN_IN, {"login": login, "password": password})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["signIn"]
    return payload


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any] | None:
    body = await graphql(client, ME, headers=bearer(token))
    assert "errors" not in body, body
    viewer: dict[str, Any] | None = body["data"]["me"]
    return viewer


def mail_of(emulators: EmulatorHost) -> str:
    return f"{emulators.config.mail_url}/mail/messages"


def sms_of(emulators: EmulatorHost) -> str:
    return f"{emulators.config.sms_url}/sms/messages"


# --- registration ----------------------------------------------------------------------


async def test_registering_signs_the_owner_in_and_asks_for_a_contact(
    client: httpx.AsyncClient, app: Any
) -> None:
    payload = await register(client)

    assert payload["errors"] == []
    assert payload["needsContact"] is True
    assert payload["viewer"] == {"login": "7200000002"}
    assert (await me(client, payload["token"])) == {
        "login": "7200000002",
        "email": None,
        "phone": None,
    }
    services: Services = app.state.services
    async with services.store.session() as db:
        consent = (await db.execute(select(Consent))).scalars().all()
    assert [(c.account_number, c.policy_version) for c in consent] == [
        ("7200000001", POLICY),  # the demo customer's
        ("7200000002", POLICY),
    ]
    assert consent[1].text_sha256 == services.policy.text_sha256


async def test_registration_sets_an_http_only_secure_lax_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": REGISTER, "variables": registration()})

    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("lkk_session=")
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=lax" in cookie


async def test_the_surname_matches_whatever_the_case_yo_and_blanks(
    client: httpx.AsyncClient,
) -> None:
    payload = await register(client, accountNumber="7200000003", ownerSurname="  сёмина ")

    assert payload["errors"] == []


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"accountNumber": "72000001"}, "ACCOUNT_NUMBER_INVALID", "accountNumber"),
        ({"password": "Ab1", "passwordConfirmation": "Ab1"}, "PASSWORD_LENGTH", "password"),
        (
            {"password": "Sec ret1", "passwordConfirmation": "Sec ret1"},
            "PASSWORD_SPACES",
            "password",
        ),
        (
            {"password": "Secret@1", "passwordConfirmation": "Secret@1"},
            "PASSWORD_CHARACTERS",
            "password",
        ),
        ({"passwordConfirmation": "Secret13"}, "PASSWORD_MISMATCH", "passwordConfirmation"),
        ({"consent": False}, "CONSENT_REQUIRED", "consent"),
        ({"policyVersion": "2019-01"}, "POLICY_VERSION_OUTDATED", "policyVersion"),
        (
            {"accountNumber": "7200000001", "ownerSurname": "Иванова"},
            "ACCOUNT_ALREADY_REGISTERED",
            "accountNumber",
        ),
    ],
)
async def test_each_registration_mistake_has_its_own_code_and_russian_message(
    client: httpx.AsyncClient, changes: dict[str, Any], code: str, field: str
) -> None:
    payload = await register(client, **changes)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert payload["token"] is None
    message = payload["errors"][0]["message"]
    assert any("а" <= ch <= "я" for ch in message.lower()), message


async def test_all_form_mistakes_are_reported_at_once(client: httpx.AsyncClient) -> None:
    payload = await register(
        client, accountNumber="123", password="a b", passwordConfirmation="x", consent=False
    )

    assert {e["code"] for e in payload["errors"]} == {
        "ACCOUNT_NUMBER_INVALID",
        "PASSWORD_SPACES",
        "PASSWORD_MISMATCH",
        "CONSENT_REQUIRED",
    }


async def test_an_unknown_account_and_a_wrong_surname_get_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    unknown = await register(client, accountNumber="7299999999")
    wrong = await register(client, ownerSurname="Сидоров")

    assert unknown["errors"] == wrong["errors"]
    assert unknown["errors"][0]["code"] == "ACCOUNT_OR_SURNAME_MISMATCH"


async def test_registration_while_billing_is_down_says_the_service_is_unavailable(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    emulators.runtimes["billing"].faults.outage = True

    payload = await register(client)

    assert [e["code"] for e in payload["errors"]] == ["SERVICE_UNAVAILABLE"]


# --- sign-in, sessions -------------------------------------------------------------------


async def test_the_demo_customer_signs_in_by_account_number_with_no_contact_prompt(
    client: httpx.AsyncClient,
) -> None:
    payload = await sign_in(client, "7200000001", "Demo2026!")

    assert payload["errors"] == []
    assert payload["needsContact"] is False
    assert payload["viewer"] == {
        "login": "7200000001",
        "email": {"value": "m.ivanova@example.ru", "confirmed": True},
    }


async def test_a_wrong_password_and_an_unknown_login_get_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    wrong = await sign_in(client, "7200000001", "Wrong2026!")
    unknown = await sign_in(client, "nobody1", "Wrong2026!")

    assert wrong == unknown
    assert wrong["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_the_eleventh_failure_is_refused_even_with_the_right_password(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(10):
        assert (await sign_in(client, "7200000001", "Wrong2026!"))["errors"][0]["code"] == (
            "INVALID_CREDENTIALS"
        )

    locked = await sign_in(client, "7200000001", "Demo2026!")

    assert [e["code"] for e in locked["errors"]] == ["SIGN_IN_LOCKED"]
    assert locked["token"] is None


async def test_sign_out_revokes_the_session_on_the_server(client: httpx.AsyncClient) -> None:
    token = (await sign_in(client, "7200000001", "Demo2026!"))["token"]

    body = await graphql(client, SIGN_OUT, headers=bearer(token))

    assert body["data"]["signOut"] == {"signedOut": True, "errors": []}
    assert await me(client, token) is None


async def test_the_cookie_authenticates_json_requests_but_not_form_posts(
    client: httpx.AsyncClient,
) -> None:
    await client.post(
        "/graphql",
        json={"query": SIGN_IN, "variables": {"login": "7200000001", "password": "Demo2026!"}},
    )
    assert "lkk_session" in client.cookies

    json_me = await client.post("/graphql", json={"query": ME})
    form_me = await client.post(
        "/graphql", content=f'{{"query": "{ME}"}}', headers={"content-type": "text/plain"}
    )

    assert json_me.json()["data"]["me"]["login"] == "7200000001"
    assert form_me.status_code >= 400 or form_me.json()["data"]["me"] is None


async def test_an_idle_session_expires(client: httpx.AsyncClient, clock: Clock) -> None:
    token = (await sign_in(client, "7200000001", "Demo2026!"))["token"]

    clock.advance(timedelta(minutes=29))
    assert await me(client, token) is not None
    clock.advance(timedelta(minutes=31))
    assert await me(client, token) is None


async def test_a_session_expires_a_day_after_sign_in_however_busy(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    token = (await sign_in(client, "7200000001", "Demo2026!"))["token"]

    for _ in range(49):  # used every 29 minutes for 23 h 41 min
        clock.advance(timedelta(minutes=29))
        assert await me(client, token) is not None
    clock.advance(timedelta(minutes=20))

    assert await me(client, token) is None


async def test_sessions_survive_a_gateway_restart(emulators: EmulatorHost, tmp_path: Path) -> None:
    settings = settings_for(emulators, tmp_path)
    first = create_app(settings)
    async with (
        first.router.lifespan_context(first),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first), base_url="http://gateway.test"
        ) as client,
    ):
        token = (await sign_in(client, "7200000001", "Demo2026!"))["token"]

    second = create_app(settings)
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second), base_url="http://gateway.test"
        ) as client,
    ):
        assert (await me(client, token)) is not None


# --- contacts ----------------------------------------------------------------------------


async def test_an_email_is_confirmed_with_the_code_from_the_letter(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    token = (await register(client))["token"]

    sent = await graphql(
        client,
        REQUEST_CODE,
        {"channel": "EMAIL", "value": "Petrov@Example.RU"},
        headers=bearer(token),
    )
    code = await wait_for_code(mail_of(emulators), {"to": "Petrov@example.ru"})
    confirmed = await graphql(
        client, CONFIRM, {"channel": "EMAIL", "code": code}, headers=bearer(token)
    )

    assert sent["data"]["requestContactCode"] == {
        "contact": {"value": None, "confirmed": False, "pendingValue": "Petrov@example.ru"},
        "codeExpiresInSeconds": 300,
        "resendAfterSeconds": 60,
        "errors": [],
    }
    assert confirmed["data"]["confirmContact"] == {
        "contact": {"value": "Petrov@example.ru", "confirmed": True, "pendingValue": None},
        "errors": [],
    }
    assert (await sign_in(client, "7200000002", "Secret12"))["needsContact"] is False


async def test_a_phone_in_any_usual_spelling_gets_its_code_by_sms(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    token = (await register(client))["token"]

    await graphql(
        client,
        REQUEST_CODE,
        {"channel": "PHONE", "value": "8 (912) 345-67-89"},
        headers=bearer(token),
    )
    code = await wait_for_code(sms_of(emulators), {"phone": "79123456789"})
    confirmed = await graphql(
        client, CONFIRM, {"channel": "PHONE", "code": code}, headers=bearer(token)
    )

    assert confirmed["data"]["confirmContact"]["contact"] == {
        "value": "79123456789",
        "confirmed": True,
        "pendingValue": None,
    }


@pytest.mark.parametrize(
    ("channel", "value", "code"),
    [
        ("EMAIL", "мария@почта.рф", "EMAIL_RF_UNSUPPORTED"),
        ("EMAIL", "мария@mail.ru", "EMAIL_NOT_LATIN"),
        ("EMAIL", "maria@", "EMAIL_INVALID"),
        ("PHONE", "+7 3452 12-34-56", "PHONE_INVALID"),
    ],
)
async def test_contacts_against_the_rules_are_refused_before_any_code_is_sent(
    client: httpx.AsyncClient, channel: str, value: str, code: str
) -> None:
    token = (await register(client))["token"]

    body = await graphql(
        client, REQUEST_CODE, {"channel": channel, "value": value}, headers=bearer(token)
    )

    assert [e["code"] for e in body["data"]["requestContactCode"]["errors"]] == [code]


async def test_contact_mutations_need_a_session(client: httpx.AsyncClient) -> None:
    body = await graphql(client, REQUEST_CODE, {"channel": "EMAIL", "value": "a@b.ru"})

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_sixth_try_fails_even_with_the_right_code(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    token = (await register(client))["token"]
    await graphql(
        client, REQUEST_CODE, {"channel": "EMAIL", "value": "p@example.ru"}, headers=bearer(token)
    )
    code = await wait_for_code(mail_of(emulators), {"to": "p@example.ru"})
    wrong = "000000" if code != "000000" else "111111"

    answers = [
        (
            await graphql(
                client, CONFIRM, {"channel": "EMAIL", "code": wrong}, headers=bearer(token)
            )
        )["data"]["confirmContact"]["errors"][0]["code"]
        for _ in range(5)
    ]
    sixth = await graphql(
        client, CONFIRM, {"channel": "EMAIL", "code": code}, headers=bearer(token)
    )

    assert answers == ["CODE_INVALID"] * 4 + ["CODE_ATTEMPTS_EXCEEDED"]
    assert sixth["data"]["confirmContact"]["errors"][0]["code"] == "CODE_ATTEMPTS_EXCEEDED"


async def test_a_code_expires_after_five_minutes(
    client: httpx.AsyncClient, emulators: EmulatorHost, clock: Clock
) -> None:
    token = (await register(client))["token"]
    await graphql(
        client, REQUEST_CODE, {"channel": "EMAIL", "value": "p@example.ru"}, headers=bearer(token)
    )
    code = await wait_for_code(mail_of(emulators), {"to": "p@example.ru"})

    clock.advance(timedelta(minutes=5, seconds=1))
    body = await graphql(client, CONFIRM, {"channel": "EMAIL", "code": code}, headers=bearer(token))

    assert body["data"]["confirmContact"]["errors"][0]["code"] == "CODE_EXPIRED"


async def test_a_second_code_within_a_minute_is_refused(client: httpx.AsyncClient) -> None:
    token = (await register(client))["token"]
    variables = {"channel": "EMAIL", "value": "p@example.ru"}

    first = await graphql(client, REQUEST_CODE, variables, headers=bearer(token))
    second = await graphql(client, REQUEST_CODE, variables, headers=bearer(token))

    assert first["data"]["requestContactCode"]["errors"] == []
    assert [e["code"] for e in second["data"]["requestContactCode"]["errors"]] == [
        "CODE_RESEND_COOLDOWN"
    ]


async def test_at_most_five_codes_an_hour_go_to_one_address(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    app = create_app(settings_for(emulators, tmp_path, code_resend_cooldown_seconds=0))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        token = (await register(client))["token"]
        variables = {"channel": "PHONE", "value": "+79123456780"}
        answers = [
            (await graphql(client, REQUEST_CODE, variables, headers=bearer(token)))["data"][
                "requestContactCode"
            ]["errors"]
            for _ in range(6)
        ]

    assert answers[:5] == [[]] * 5
    assert [e["code"] for e in answers[5]] == ["CODE_HOURLY_LIMIT"]
    assert await message_count(sms_of(emulators), {"phone": "79123456780"}) == 5


# --- recovery ----------------------------------------------------------------------------


async def test_a_forgotten_password_is_reset_with_the_code_from_the_letter(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    old_token = (await sign_in(client, "7200000001", "Demo2026!"))["token"]

    asked = await graphql(client, REQUEST_RESET, {"login": "7200000001", "channel": "EMAIL"})
    code = await wait_for_code(mail_of(emulators), {"to": "m.ivanova@example.ru"})
    reset = await graphql(
        client,
        RESET,
        {
            "input": {
                "login": "7200000001",
                "channel": "EMAIL",
                "code": code,
                "newPassword": "Новый2026",
                "newPasswordConfirmation": "Новый2026",
            }
        },
    )

    assert asked["data"]["requestPasswordReset"]["accepted"] is True
    assert reset["data"]["resetPassword"] == {"passwordChanged": True, "errors": []}
    assert await me(client, old_token) is None
    assert (await sign_in(client, "7200000001", "Новый2026"))["errors"] == []
    assert (await sign_in(client, "7200000001", "Demo2026!"))["errors"][0]["code"] == (
        "INVALID_CREDENTIALS"
    )


async def test_recovery_answers_the_same_for_a_missing_login_or_an_unconfirmed_channel(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    existing = await graphql(client, REQUEST_RESET, {"login": "7200000001", "channel": "EMAIL"})
    missing = await graphql(client, REQUEST_RESET, {"login": "nobody42", "channel": "EMAIL"})
    no_phone = await graphql(client, REQUEST_RESET, {"login": "7200000001", "channel": "PHONE"})

    assert existing == missing == no_phone
    assert existing["data"]["requestPasswordReset"]["accepted"] is True
    await wait_for_code(mail_of(emulators), {"to": "m.ivanova@example.ru"})


async def test_a_wrong_recovery_code_is_the_same_answer_for_any_login(
    client: httpx.AsyncClient,
) -> None:
    def attempt(login: str) -> dict[str, Any]:
        return {
            "input": {
                "login": login,
                "channel": "EMAIL",
                "code": "123456",
                "newPassword": "Новый2026",
                "newPasswordConfirmation": "Новый2026",
            }
        }

    existing = await graphql(client, RESET, attempt("7200000001"))
    missing = await graphql(client, RESET, attempt("nobody42"))

    assert existing == missing
    assert existing["data"]["resetPassword"]["errors"][0]["code"] == "CODE_INVALID"


# --- settings ----------------------------------------------------------------------------


async def test_changing_the_login_and_password_signs_out_everywhere(
    client: httpx.AsyncClient,
) -> None:
    phone = (await sign_in(client, "7200000001", "Demo2026!"))["token"]
    web = (await sign_in(client, "7200000001", "Demo2026!"))["token"]

    body = await graphql(
        client,
        CHANGE,
        {
            "input": {
                "currentPassword": "Demo2026!",
                "newLogin": "Мария1",
                "newPassword": "Pass№2026",
                "newPasswordConfirmation": "Pass№2026",
            }
        },
        headers=bearer(web),
    )

    assert body["data"]["changeCredentials"] == {"login": "Мария1", "signedOut": True, "errors": []}
    assert await me(client, phone) is None
    assert await me(client, web) is None
    assert (await sign_in(client, "мария1", "Pass№2026"))["viewer"]["login"] == "Мария1"
    assert (await sign_in(client, "7200000001", "Pass№2026"))["errors"] == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"newLogin": "7200000002"}, "LOGIN_TAKEN"),
        ({"newLogin": "ab"}, "LOGIN_LENGTH"),
        ({"newPassword": "Pass2026", "newPasswordConfirmation": "Pass2027"}, "PASSWORD_MISMATCH"),
        ({"currentPassword": "Wrong2026", "newLogin": "maria77"}, "CURRENT_PASSWORD_INVALID"),
        ({}, "NOTHING_TO_CHANGE"),
    ],
)
async def test_credential_changes_against_the_rules_are_refused(
    client: httpx.AsyncClient, change: dict[str, str], code: str
) -> None:
    token = (await sign_in(client, "7200000001", "Demo2026!"))["token"]

    body = await graphql(
        client, CHANGE, {"input": {"currentPassword": "Demo2026!", **change}}, headers=bearer(token)
    )

    assert [e["code"] for e in body["data"]["changeCredentials"]["errors"]] == [code]
    assert await me(client, token) is not None


# --- contact centre ------------------------------------------------------------------------


async def test_the_operator_reset_needs_the_operator_scope(client: httpx.AsyncClient) -> None:
    variables = {"number": "7200000001", "reason": "обращение 1"}

    anonymous = await graphql(client, OPERATOR_RESET, variables)
    partner = await graphql(
        client, OPERATOR_RESET, variables, headers={"x-api-key": "demo-partner-key"}
    )

    for body in (anonymous, partner):
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await sign_in(client, "7200000001", "Demo2026!"))["errors"] == []


async def test_an_operator_reset_lets_the_customer_register_again_and_is_audited(
    client: httpx.AsyncClient, app: Any
) -> None:
    token = (await sign_in(client, "7200000001", "Demo2026!"))["token"]

    body = await graphql(
        client,
        OPERATOR_RESET,
        {"number": "7200000001", "reason": "Заявка КЦ-1042"},
        headers={"x-api-key": "demo-operator-key"},
    )
    again = await register(client, accountNumber="7200000001", ownerSurname="Иванова")

    assert body["data"]["resetCustomerCredentials"] == {
        "accountNumber": "7200000001",
        "reset": True,
        "errors": [],
    }
    assert await me(client, token) is None
    assert again["errors"] == []
    services: Services = app.state.services
    async with services.store.session() as db:
        audit = (
            await db.execute(
                select(AuditEvent).where(AuditEvent.action == "credentials.reset_by_operator")
            )
        ).scalar_one()
        users = (await db.execute(select(User.account_number))).scalars().all()
    assert audit.subject == "7200000001"
    assert audit.details["reason"] == "Заявка КЦ-1042"
    assert audit.actor.startswith("apikey:")
    assert users == ["7200000001"]


# --- privacy policy --------------------------------------------------------------------------


async def test_the_privacy_policy_is_served_in_the_api_and_as_a_page(
    client: httpx.AsyncClient,
) -> None:
    body = await graphql(client, "{ privacyPolicy { version text url } }")
    policy = body["data"]["privacyPolicy"]
    page = await client.get("/privacy")

    assert policy["version"] == POLICY
    assert "152-ФЗ" in policy["text"]
    assert policy["url"].endswith("/privacy")
    assert page.status_code == 200
    assert "Политика конфиденциальности" in page.text
