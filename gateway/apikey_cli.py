"""``lkk apikey``: issue, list, revoke and rotate the API keys of partners and operators
(GW-3). The secret of a key is printed once, when it is made; the store keeps only its digest.

The commands use the store of ``LKK_DATABASE_URL`` (SQLite in ``LKK_DATA_DIR`` by default)
and migrate it first where the gateway itself would at start (demo and development; in
production run ``lkk migrate`` first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TypeVar

from gateway.access import cli as access_cli
from gateway.clock import Clock
from gateway.identity.apikeys import (
    KNOWN_SCOPES,
    ApiKeyInfo,
    ApiKeyNotFound,
    ApiKeyRequestInvalid,
    ApiKeys,
    IssuedKey,
)
from gateway.settings import Settings
from gateway.store.db import Store

T = TypeVar("T")

ACTOR = "cli"
"""Who the audit log says acted."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``apikey`` and its subcommands to the ``lkk`` command line."""
    apikey = commands.add_parser("apikey", help="manage partner and operator API keys")
    actions = apikey.add_subparsers(dest="apikey_command", required=True)

    create = actions.add_parser("create", help="issue a key; its secret is shown once")
    create.add_argument("--name", required=True, help="who holds the key (partner, team)")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        required=True,
        choices=sorted(KNOWN_SCOPES),
        help="a scope of the key; repeat for several",
    )
    create.add_argument(
        "--account",
        dest="accounts",
        action="append",
        default=[],
        metavar="NUMBER",
        help="an account number the partner may read; repeat for several",
    )
    create.add_argument("--expires-days", type=_days, metavar="D", help="expire after D days")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(run=cmd_create)

    listing = actions.add_parser("list", help="every key, without secrets")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=cmd_list)

    revoke = actions.add_parser("revoke", help="stop a key from working")
    revoke.add_argument("key_id", type=_key_id, metavar="ID")
    revoke.set_defaults(run=cmd_revoke)

    rotate = actions.add_parser("rotate", help="replace a key by a new secret, revoke the old")
    rotate.add_argument("key_id", type=_key_id, metavar="ID")
    rotate.add_argument(
        "--expires-days", type=_days, metavar="D", help="new expiry (default: the old one)"
    )
    rotate.add_argument("--json", action="store_true", help="print JSON")
    rotate.set_defaults(run=cmd_rotate)

    access_cli.register(actions)  # allow, disallow, operations, limits


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    """``lkk apikey create``: issue a key and print its secret, once."""
    made = _run(
        settings,
        lambda keys: _shown(
            keys,
            keys.issue(
                args.name,
                args.scopes,
                accounts=args.accounts,
                expires_in=_expiry(args.expires_days),
                actor=ACTOR,
            ),
        ),
    )
    if made is None:
        return 1
    _print_issued(*made, as_json=args.json, title="API key created")
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    """``lkk apikey list``: every key, without secrets."""
    keys = _run(settings, lambda keys: keys.list_keys())
    if keys is None:
        return 1
    now = Clock().now()
    if args.json:
        _out(json.dumps([_as_json(key, now) for key in keys], ensure_ascii=False, indent=2))
        return 0
    if not keys:
        _out("no API keys yet: lkk apikey create --name N --scope S")
        return 0
    header = ("id", "name", "scopes", "accounts", "created", "expires", "revoked", "state")
    rows = [header] + [
        (
            str(key.key_id),
            key.name,
            ",".join(key.scopes),
            ",".join(key.accounts) or "-",
            _when(key.created_at),
            _when(key.expires_at),
            _when(key.revoked_at),
            _state(key, now),
        )
        for key in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        _out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """``lkk apikey revoke ID``: the key stops working at once."""
    key = _run(settings, lambda keys: keys.revoke(args.key_id, actor=ACTOR))
    if key is None:
        return 1
    _out(f"API key {key.key_id} ({key.name}) revoked at {_when(key.revoked_at)}")
    return 0


def cmd_rotate(settings: Settings, args: argparse.Namespace) -> int:
    """``lkk apikey rotate ID``: a new secret for the same grant; the old key is revoked."""
    made = _run(
        settings,
        lambda keys: _shown(
            keys, keys.rotate(args.key_id, expires_in=_expiry(args.expires_days), actor=ACTOR)
        ),
    )
    if made is None:
        return 1
    _print_issued(*made, as_json=args.json, title=f"API key {args.key_id} revoked, replaced by")
    return 0


def _run(settings: Settings, action: Callable[[ApiKeys], Awaitable[T]]) -> T | None:
    """Run ``action`` against the store; a refusal is printed and gives None."""
    url = settings.effective_database_url
    if settings.should_migrate_on_start:
        with _quiet("alembic"):  # its progress lines are noise here, unlike in `lkk migrate`
            from gateway.store.migrate import upgrade

            upgrade(url)

    async def run() -> T:
        store = Store(url)
        try:
            return await action(ApiKeys(store, Clock()))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except ApiKeyNotFound as exc:
        _err(f"no API key has the id {exc}")
    except ApiKeyRequestInvalid as exc:
        _err(str(exc))
    return None


async def _shown(keys: ApiKeys, making: Awaitable[IssuedKey]) -> tuple[IssuedKey, ApiKeyInfo]:
    issued = await making
    return issued, await keys.get(issued.key_id)


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _print_issued(issued: IssuedKey, key: ApiKeyInfo, *, as_json: bool, title: str) -> None:
    if as_json:
        document = {**_as_json(key, Clock().now()), "secret": issued.secret}
        _out(json.dumps(document, ensure_ascii=False, indent=2))
        return
    _out(title)
    _out(f"  id        {key.key_id}")
    _out(f"  name      {key.name}")
    _out(f"  scopes    {', '.join(key.scopes)}")
    _out(f"  accounts  {', '.join(key.accounts) or '-'}")
    _out(f"  expires   {_when(key.expires_at)}")
    _out("Secret (shown this once; only its digest is kept; send it as X-Api-Key):")
    _out(f"  {issued.secret}")


def _as_json(key: ApiKeyInfo, now: datetime) -> dict[str, object]:
    def stamp(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "id": str(key.key_id),
        "name": key.name,
        "scopes": list(key.scopes),
        "accounts": list(key.accounts),
        "created_at": stamp(key.created_at),
        "expires_at": stamp(key.expires_at),
        "revoked_at": stamp(key.revoked_at),
        "state": _state(key, now),
    }


def _state(key: ApiKeyInfo, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "active" if key.is_live(now) else "expired"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


def _expiry(days: int | None) -> timedelta | None:
    return timedelta(days=days) if days is not None else None


def _days(text: str) -> int:
    days = int(text)
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError("days must be between 1 and 3650")
    return days


def _key_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a key id: {text!r}") from None


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"lkk apikey: {text}\n")
