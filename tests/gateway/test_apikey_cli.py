"""``lkk apikey``: a key made on the command line authenticates with its scopes and accounts,
its secret is shown once and never listed, and it stops working when revoked, rotated or
expired. Each test runs ``lkk`` (``gateway.cli.main``) on a store of its own."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.cli import main
from gateway.clock import Clock
from gateway.identity.apikeys import ApiKeys, ApiPrincipal
from gateway.security.tokens import token_digest
from gateway.store.db import Store
from gateway.store.models import AuditEvent


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # `lkk` configures the root logger for the process; give the test runner its own back
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private SQLite store, as `lkk` finds it through LKK_DATABASE_URL."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.sqlite3'}"
    monkeypatch.setenv("LKK_DATABASE_URL", url)
    monkeypatch.setenv("LKK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LKK_ENVIRONMENT", "demo")
    return url


class Lkk:
    """Runs ``lkk apikey …`` in-process and keeps what it printed."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.out = self.err = ""

    def __call__(self, *argv: str) -> int:
        code = main(["apikey", *argv])
        self.out, self.err = self.capsys.readouterr()
        return code

    def json(self, *argv: str) -> Any:
        assert self(*argv, "--json") == 0, self.err
        return json.loads(self.out)


@pytest.fixture
def lkk(store_url: str, capsys: pytest.CaptureFixture[str]) -> Lkk:
    return Lkk(capsys)


def principal(url: str, secret: str, at: datetime | None = None) -> ApiPrincipal | None:
    """Who the gateway takes the holder of ``secret`` for, now or at ``at``."""

    async def check() -> ApiPrincipal | None:
        store = Store(url)
        clock = Clock()
        if at is not None:
            clock.freeze(at)
        try:
            return await ApiKeys(store, clock).authenticate(secret)
        finally:
            await store.close()

    return asyncio.run(check())


def audit_actions(url: str) -> list[tuple[str, str, str]]:
    async def read() -> list[tuple[str, str, str]]:
        store = Store(url)
        try:
            async with store.session() as db:
                events = (await db.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
            return [(e.actor, e.action, e.subject) for e in events]
        finally:
            await store.close()

    return asyncio.run(read())


PARTNER_ACCOUNTS = ["7200000001", "7200000002"]
COLUMNS = ("id", "name", "scopes", "accounts", "created", "expires", "revoked", "state")


def create_partner(lkk: Lkk, *extra: str) -> dict[str, Any]:
    made: dict[str, Any] = lkk.json(
        "create",
        "--name",
        "Партнёр ЖКХ-Онлайн",
        "--scope",
        "accounts:read",
        "--account",
        "7200000001",
        "--account",
        "7200000002",
        *extra,
    )
    return made


def test_a_created_key_authenticates_with_its_scopes_and_accounts(lkk: Lkk, store_url: str) -> None:
    made = create_partner(lkk)

    assert made["secret"].startswith("lkk_")
    assert made["state"] == "active"
    assert principal(store_url, made["secret"]) == ApiPrincipal(
        key_id=uuid.UUID(made["id"]),
        name="Партнёр ЖКХ-Онлайн",
        scopes=frozenset({"accounts:read"}),
        accounts=frozenset({"7200000001", "7200000002"}),
    )


def test_the_secret_is_printed_once_and_the_store_keeps_only_its_digest(lkk: Lkk) -> None:
    assert lkk("create", "--name", "Оператор КЦ", "--scope", "operator") == 0
    created = lkk.out
    secret = created.split("X-Api-Key):\n")[1].strip()

    assert lkk("list") == 0
    listed = lkk.out
    assert lkk("list", "--json") == 0
    listed_json = lkk.out

    assert secret.startswith("lkk_")
    assert created.count(secret) == 1
    for shown in (listed, listed_json):
        assert secret not in shown
        assert token_digest(secret) not in shown


def test_list_shows_every_key_without_secrets(lkk: Lkk) -> None:
    partner = create_partner(lkk, "--expires-days", "30")
    operator = lkk.json("create", "--name", "Оператор КЦ", "--scope", "operator")

    listed = lkk.json("list")
    assert lkk("list") == 0

    shown = [(k["id"], k["name"], k["scopes"], k["accounts"], k["state"]) for k in listed]
    assert shown == [
        (partner["id"], "Партнёр ЖКХ-Онлайн", ["accounts:read"], PARTNER_ACCOUNTS, "active"),
        (operator["id"], "Оператор КЦ", ["operator"], [], "active"),
    ]
    assert [k["revoked_at"] for k in listed] == [None, None]
    created = datetime.fromisoformat(listed[0]["created_at"])
    assert datetime.fromisoformat(listed[0]["expires_at"]) == created + timedelta(days=30)
    assert listed[1]["expires_at"] is None
    assert all("secret" not in k for k in listed)
    lines = lkk.out.splitlines()
    assert lines[0].split() == list(COLUMNS)
    assert partner["id"] in lines[1]
    assert "Партнёр ЖКХ-Онлайн" in lines[1]
    assert lines[2].startswith(operator["id"])
    assert lines[2].endswith("active")


def test_a_revoked_key_stops_authenticating(lkk: Lkk, store_url: str) -> None:
    made = create_partner(lkk)

    code = lkk("revoke", made["id"])

    assert code == 0
    assert lkk.out.startswith(f"API key {made['id']} (Партнёр ЖКХ-Онлайн) revoked at ")
    assert principal(store_url, made["secret"]) is None
    assert lkk.json("list")[0]["state"] == "revoked"


def test_rotation_gives_a_new_secret_for_the_same_grant_and_stops_the_old_one(
    lkk: Lkk, store_url: str
) -> None:
    old = create_partner(lkk, "--expires-days", "30")

    new = lkk.json("rotate", old["id"])

    assert new["secret"] != old["secret"]
    assert new["id"] != old["id"]
    assert principal(store_url, old["secret"]) is None
    rotated = principal(store_url, new["secret"])
    assert rotated is not None
    assert (rotated.name, rotated.scopes, rotated.accounts) == (
        "Партнёр ЖКХ-Онлайн",
        frozenset({"accounts:read"}),
        frozenset({"7200000001", "7200000002"}),
    )
    assert new["expires_at"] == old["expires_at"]
    assert [(k["id"], k["state"]) for k in lkk.json("list")] == [
        (old["id"], "revoked"),
        (new["id"], "active"),
    ]


def test_rotation_may_set_a_new_expiry(lkk: Lkk) -> None:
    old = create_partner(lkk, "--expires-days", "30")

    new = lkk.json("rotate", old["id"], "--expires-days", "90")

    assert datetime.fromisoformat(new["expires_at"]) == datetime.fromisoformat(
        new["created_at"]
    ) + timedelta(days=90)


def test_a_key_stops_authenticating_when_its_days_are_over(lkk: Lkk, store_url: str) -> None:
    made = create_partner(lkk, "--expires-days", "2")
    created = datetime.fromisoformat(made["created_at"])

    assert principal(store_url, made["secret"], at=created + timedelta(days=2, seconds=-1))
    assert principal(store_url, made["secret"], at=created + timedelta(days=2)) is None


def test_a_revoked_key_cannot_be_rotated_back_to_life(lkk: Lkk) -> None:
    made = create_partner(lkk)
    assert lkk("revoke", made["id"]) == 0

    code = lkk("rotate", made["id"])

    assert code == 1
    assert lkk.err == "lkk apikey: the key is revoked; issue a new one instead\n"
    assert len(lkk.json("list")) == 1


def test_an_unknown_key_id_is_reported(lkk: Lkk) -> None:
    missing = str(uuid.uuid4())

    assert lkk("revoke", missing) == 1
    assert lkk.err == f"lkk apikey: no API key has the id {missing}\n"


def test_a_malformed_account_number_makes_no_key(lkk: Lkk) -> None:
    code = lkk("create", "--name", "Партнёр", "--scope", "accounts:read", "--account", "72000")

    assert code == 1
    assert lkk.err == "lkk apikey: account numbers are 10 digits, not 72000\n"
    assert lkk.json("list") == []


def test_an_unknown_scope_is_refused_by_the_command_line(lkk: Lkk) -> None:
    with pytest.raises(SystemExit) as exit_:
        lkk("create", "--name", "Партнёр", "--scope", "accounts:write")

    assert exit_.value.code == 2


def test_key_management_is_audited(lkk: Lkk, store_url: str) -> None:
    made = create_partner(lkk)
    assert lkk("revoke", made["id"]) == 0

    assert audit_actions(store_url) == [
        ("cli", "apikey.created", made["id"]),
        ("cli", "apikey.revoked", made["id"]),
    ]
