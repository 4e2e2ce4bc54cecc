"""``lkk apikey allow|disallow|operations|limits``: a partner key's persisted operations and
its own rate limits (GW-1, GW-3). Added to ``lkk apikey`` by :func:`register`.

``allow`` checks the document against the schema before it registers it (a typo fails here,
not in the partner's hands) and prints the id the partner sends as ``documentId``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from graphql import GraphQLSyntaxError, OperationDefinitionNode, parse, specified_rules, validate

from gateway.access.operations import PersistedOperations, parse_document_id
from gateway.access.usage import KeyLimits, KeyLimitValues
from gateway.clock import Clock
from gateway.identity.apikeys import ApiKeyNotFound
from gateway.settings import Settings
from gateway.store.db import Store

T = TypeVar("T")


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands to ``lkk apikey``."""
    allow = actions.add_parser(
        "allow", help="register a GraphQL document a partner key may run (persisted operation)"
    )
    allow.add_argument("key_id", type=_key_id, metavar="ID")
    allow.add_argument("file", type=Path, metavar="FILE.graphql")
    allow.add_argument("--json", action="store_true", help="print JSON")
    allow.set_defaults(run=cmd_allow)

    disallow = actions.add_parser("disallow", help="take a document off a key's allow-list")
    disallow.add_argument("key_id", type=_key_id, metavar="ID")
    disallow.add_argument("document_id", metavar="DOCUMENT_ID")
    disallow.set_defaults(run=cmd_disallow)

    listing = actions.add_parser("operations", help="the documents a key may run")
    listing.add_argument("key_id", type=_key_id, metavar="ID")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=cmd_operations)

    limits = actions.add_parser(
        "limits", help="show or set a key's requests per minute and hourly cost budget"
    )
    limits.add_argument("key_id", type=_key_id, metavar="ID")
    limits.add_argument(
        "--per-minute", type=_amount, metavar="N", help="requests per minute (0: the default)"
    )
    limits.add_argument(
        "--hourly-cost", type=_amount, metavar="N", help="cost units per hour (0: the default)"
    )
    limits.set_defaults(run=cmd_limits)


def cmd_allow(settings: Settings, args: argparse.Namespace) -> int:
    """``lkk apikey allow ID FILE``: check the document and put it on the key's list."""
    try:
        document = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"cannot read {args.file}: {exc}")
        return 1
    names = _checked_operations(document, settings)
    if names is None:
        return 1
    registered = _run(
        settings,
        lambda store: PersistedOperations(store, Clock()).register(args.key_id, document, names),
    )
    if registered is None:
        return 1
    shown = f"sha256:{registered.document_id}"
    if args.json:
        _out(json.dumps({"documentId": shown, "operations": list(names)}, ensure_ascii=False))
        return 0
    _out(f"registered for key {args.key_id}: {', '.join(names)}")
    _out(f'the partner sends:  {{"documentId": "{shown}", "operationName": …, "variables": …}}')
    return 0


def cmd_disallow(settings: Settings, args: argparse.Namespace) -> int:
    """``lkk apikey disallow ID DOCUMENT_ID``."""
    digest = parse_document_id(args.document_id)
    if digest is None:
        _err("a document id is sha256:<64 hex digits>")
        return 1
    removed = _run(
        settings, lambda store: PersistedOperations(store, Clock()).remove(args.key_id, digest)
    )
    if not removed:
        _err(f"sha256:{digest} is not on the list of key {args.key_id}")
        return 1
    _out(f"sha256:{digest} removed from key {args.key_id}")
    return 0


def cmd_operations(settings: Settings, args: argparse.Namespace) -> int:
    """``lkk apikey operations ID``: the key's allow-list."""
    found = _run(settings, lambda store: PersistedOperations(store, Clock()).list_for(args.key_id))
    if found is None:
        return 1
    if args.json:
        listing = [
            {
                "documentId": f"sha256:{op.document_id}",
                "operations": list(op.operation_names),
                "createdAt": op.created_at.isoformat(),
            }
            for op in found
        ]
        _out(json.dumps(listing, ensure_ascii=False, indent=2))
        return 0
    if not found:
        _out(f"no operations registered for key {args.key_id}: lkk apikey allow ID FILE")
    for op in found:
        _out(f"sha256:{op.document_id}  {', '.join(op.operation_names)}")
    return 0


def cmd_limits(settings: Settings, args: argparse.Namespace) -> int:
    """``lkk apikey limits ID [--per-minute N] [--hourly-cost N]``."""

    async def act(store: Store) -> KeyLimitValues:
        limits = KeyLimits(store, Clock())
        if args.per_minute is None and args.hourly_cost is None:
            return await limits.get(args.key_id)
        current = await limits.get(args.key_id)
        per_minute = current.requests_per_minute if args.per_minute is None else args.per_minute
        hourly = current.hourly_cost_budget if args.hourly_cost is None else args.hourly_cost
        return await limits.set(
            args.key_id,
            requests_per_minute=per_minute or None,
            hourly_cost_budget=hourly or None,
        )

    values = _run(settings, act)
    if values is None:
        return 1
    per_minute = values.requests_per_minute or settings.api_key_requests_per_minute
    hourly = values.hourly_cost_budget or settings.api_key_hourly_cost_budget
    _out(f"key {args.key_id}")
    _out(f"  requests per minute  {per_minute}{'' if values.requests_per_minute else ' (default)'}")
    _out(f"  cost units per hour  {hourly}{'' if values.hourly_cost_budget else ' (default)'}")
    return 0


def _checked_operations(document: str, settings: Settings) -> list[str] | None:
    """The operation names of a document that parses and validates against the schema (and
    the depth and alias limits), or None after saying why not."""
    from schema.limits import alias_rule, depth_rule
    from schema.schema import build_schema

    try:
        parsed = parse(document, max_tokens=settings.max_query_tokens)
    except GraphQLSyntaxError as exc:
        _err(f"the document does not parse: {exc.message}")
        return None
    schema = build_schema(settings)._schema
    rules = [
        *specified_rules,
        depth_rule(settings.max_query_depth),
        alias_rule(settings.max_aliases),
    ]
    errors = validate(schema, parsed, rules)
    if errors:
        for error in errors:
            _err(f"invalid: {error.message}")
        return None
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        _err("the document has no operation")
        return None
    return [op.name.value if op.name else "(anonymous)" for op in operations]


def _run(settings: Settings, action: Callable[[Store], Awaitable[T]]) -> T | None:
    url = settings.effective_database_url
    if settings.should_migrate_on_start:
        alembic = logging.getLogger("alembic")
        level = alembic.level
        alembic.setLevel(logging.WARNING)  # its progress lines are noise here
        try:
            from gateway.store.migrate import upgrade

            upgrade(url)
        finally:
            alembic.setLevel(level)

    async def run() -> T:
        store = Store(url)
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except ApiKeyNotFound as exc:
        _err(f"no API key has the id {exc}")
    return None


def _key_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a key id: {text!r}") from None


def _amount(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("a limit is 0 (the default) or more")
    return value


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"lkk apikey: {text}\n")
