"""The ``lkk`` command: serve the gateway, run the emulators or both (the demo), export the
schema, migrate the store."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

import uvicorn

from emulators.config import EmulatorConfig
from emulators.host import EmulatorHost
from gateway import apikey_cli
from gateway.observability import configure_logging
from gateway.settings import Settings

DEMO_LOGINS = (
    ("7200000001", "Demo2026!", "ИВАНОВА Мария Петровна, e-mail подтверждён, 2 счёта у владельца"),
)
DEMO_REGISTRATIONS = (
    ("7200000002", "Петров", "не зарегистрирован"),
    ("7200000003", "Сёмина", "не зарегистрирован, переплата"),
)
DEMO_KEYS = (
    ("demo-partner-key", "accounts:read"),
    ("demo-operator-key", "operator"),
)


def emulator_config(settings: Settings) -> EmulatorConfig:
    """The emulators as the gateway's settings expect to find them."""
    return EmulatorConfig(
        host=settings.emulator_host,
        billing_port=settings.billing_port,
        metering_port=settings.metering_port,
        acquirer_port=settings.acquirer_port,
        sms_port=settings.sms_port,
        mail_http_port=settings.mail_http_port,
        smtp_port=settings.smtp_port,
        data_dir=settings.data_dir,
        faults={
            "billing": settings.billing_faults,
            "metering": settings.metering_faults,
            "acquirer": settings.acquirer_faults,
            "sms": settings.sms_faults,
            "mail": settings.mail_faults,
        },
        booking_delay_seconds=settings.booking_delay_seconds,
        maintenance_window=settings.maintenance_window,
        acquirer_shop_id=settings.acquirer_shop_id,
        acquirer_secret_key=settings.acquirer_secret_key.get_secret_value(),
        webhook_url=f"{settings.effective_public_url}/webhooks/acquirer",
        webhook_secret=settings.acquirer_webhook_secret.get_secret_value(),
        sms_api_key=settings.sms_api_key.get_secret_value(),
    )


def _configure_logging(settings: Settings, command: str) -> None:
    structured = settings.log_format == "json" or (
        settings.log_format is None and command not in ("demo", "emulators")
    )
    configure_logging(settings.log_level, structured=structured)


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _start_emulators(settings: Settings) -> EmulatorHost:
    host = EmulatorHost(emulator_config(settings))
    host.start_in_thread()
    return host


def _print_emulators(host: EmulatorHost) -> None:
    config = host.config
    _say("Эмуляторы унаследованных систем:")
    _say(f"  биллинг (SOAP)      {config.billing_url}?wsdl")
    _say(f"  учёт показаний      {config.metering_url}/openapi.json")
    _say(f"  эквайер             {config.acquirer_url}")
    _say(f"  SMS, исходящие      {config.sms_url}/sms/outbox")
    _say(f"  почта, входящие     {config.mail_url}/mail/inbox  (SMTP :{config.smtp_port})")


def cmd_serve(settings: Settings, _args: argparse.Namespace) -> int:
    """Serve the gateway (``LKK_WORKERS`` processes)."""
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=True,
    )
    return 0


def cmd_emulators(settings: Settings, _args: argparse.Namespace) -> int:
    """Run every emulator on its own port until Ctrl-C."""
    host = _start_emulators(settings)
    _print_emulators(host)
    _say("Ctrl-C — остановить.")
    try:
        _wait_for_signal()
    finally:
        host.stop_thread()
    return 0


def cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    """The emulators and the gateway together, one command, Ctrl-C stops all."""
    from gateway.app import create_app

    host = _start_emulators(settings)
    try:
        base = settings.effective_public_url
        _say()
        _say("ЛКК Gateway — демо")
        _say(f"  GraphiQL            {base}/graphql")
        _say(f"  здоровье            {base}/healthz  {base}/readyz")
        _print_emulators(host)
        _say("Демо-входы (логин / пароль):")
        for login, password, note in DEMO_LOGINS:
            _say(f"  {login} / {password}   {note}")
        _say("Можно зарегистрировать (лицевой счёт / фамилия):")
        for number, surname, note in DEMO_REGISTRATIONS:
            _say(f"  {number} / {surname}   {note}")
        _say("API-ключи (только в демо):")
        for key, scope in DEMO_KEYS:
            _say(f"  {key}   {scope}")
        _say("Ctrl-C — остановить всё.")
        _say()
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    finally:
        host.stop_thread()
    return 0


def cmd_export_schema(_settings: Settings, args: argparse.Namespace) -> int:
    """Print the SDL (``schema.graphql`` is this output, checked in)."""
    from schema.schema import build_schema, sdl

    text = sdl(build_schema())
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_schema_check(_settings: Settings, args: argparse.Namespace) -> int:
    """Fail on a commit that broke ``schema.graphql`` without saying so."""
    from pathlib import Path

    from schema.compat import MARKER, check_history, is_repository

    repo = Path(args.repo)
    if not is_repository(repo):
        _say(f"{repo} is not a git work tree: nothing to check")
        return 0
    violations = check_history(repo)
    for violation in violations:
        _say(f"{violation.commit} {violation.subject}")
        for change in violation.changes:
            _say(f"    {change}")
    if violations:
        _say(f"breaking schema changes without {MARKER} in the commit message")
        return 1
    _say("schema history: no unannounced breaking change")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Apply the store's migrations up to ``--revision``."""
    from gateway.store.migrate import upgrade

    upgrade(settings.effective_database_url, args.revision)
    _say(f"store migrated to {args.revision}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``lkk``."""
    parser = argparse.ArgumentParser(prog="lkk", description="ЛКК Gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the gateway").set_defaults(run=cmd_serve)
    commands.add_parser("emulators", help="run every legacy emulator").set_defaults(
        run=cmd_emulators
    )
    commands.add_parser("demo", help="emulators + gateway, one command").set_defaults(run=cmd_demo)
    export = commands.add_parser("export-schema", help="print the SDL")
    export.add_argument("--output", "-o", help="write to this file instead of stdout")
    export.set_defaults(run=cmd_export_schema)
    migrate = commands.add_parser("migrate", help="apply the store's migrations")
    migrate.add_argument("--revision", default="heads")
    migrate.set_defaults(run=cmd_migrate)
    check = commands.add_parser(
        "schema-check", help="fail on breaking schema changes not marked in their commit"
    )
    check.add_argument("--repo", default=".", help="the git work tree (default: here)")
    check.set_defaults(run=cmd_schema_check)
    apikey_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lkk`` console script."""
    args = build_parser().parse_args(argv)
    settings = Settings()
    _configure_logging(settings, args.command)
    code: int = args.run(settings, args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
