"""Every ``LKK_*`` setting of the gateway, read once, typed and validated at start.

Nothing else in the project reads ``os.environ``: the composition root builds one
:class:`Settings` and hands the parts down. The defaults run the demo on one machine
(SQLite in ``./.lkk-data``, the emulators on their default ports).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".lkk-data")
_DEMO_SECRET = "demo-secret-key-change-me-in-production-0123456789"


class Environment(StrEnum):
    """Where the gateway runs; production turns off developer conveniences."""

    DEMO = "demo"
    DEVELOPMENT = "development"
    PRODUCTION = "production"


Port = Annotated[int, Field(ge=0, le=65535)]
Seconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    """The gateway's configuration, one field per ``LKK_<NAME>`` environment variable."""

    model_config = SettingsConfigDict(
        env_prefix="LKK_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    environment: Environment = Environment.DEMO
    """``demo``, ``development`` or ``production`` (no GraphiQL, no demo keys, no auto-migrate)."""
    host: str = "127.0.0.1"
    """Interface the gateway listens on."""
    port: Port = 8000
    """Port of the gateway."""
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    """uvicorn worker processes of ``lkk serve``."""
    public_url: str = ""
    """Base URL the clients reach the gateway by (receipt links, policy URL); derived if empty."""

    data_dir: Path = DEFAULT_DATA_DIR
    """Folder of the embedded SQLite store and the emulators' state files."""
    database_url: str = ""
    """SQLAlchemy async URL; empty means SQLite in ``data_dir``. Scaled out:
    ``postgresql+asyncpg://user:password@host:5432/lkk`` (docs/scale-out.md)."""
    database_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    """PostgreSQL connections each replica keeps open (SQLAlchemy ``pool_size``)."""
    database_max_overflow: Annotated[int, Field(ge=0, le=200)] = 10
    """Extra PostgreSQL connections a replica may open at a peak, closed when returned."""
    migrate_on_start: bool | None = None
    """Run Alembic migrations at start; by default only in demo and development."""

    redis_url: str = ""
    """Redis (``redis://host:6379/0``) shared by replicas: upstream cache, rate limits, payment
    events, persisted queries; empty: all in-process (one replica only)."""
    redis_timeout_seconds: Seconds = 0.5
    """Longest wait for one Redis command of the cache and the rate limits; a slower Redis
    counts as down for that request (a cache miss, a limit failing open or closed)."""
    graphiql: bool | None = None
    """Serve GraphiQL in a browser; by default on everywhere except production."""
    max_query_depth: Annotated[int, Field(ge=1)] = 10
    """Deepest nesting of fields a GraphQL document may have (``QUERY_TOO_DEEP``)."""
    max_aliases: Annotated[int, Field(ge=0)] = 30
    """Most aliased fields a GraphQL document may have (``TOO_MANY_ALIASES``)."""
    max_query_tokens: Annotated[int, Field(ge=500)] = 2000
    """Most lexical tokens a GraphQL document may have; the parser stops there
    (``QUERY_TOO_LARGE``)."""
    max_query_cost: Annotated[int, Field(ge=1)] = 10000
    """Cost budget of one request: each field 1, a connection ``first`` × its selection
    (``QUERY_TOO_COMPLEX``); the page size itself is capped at 100 (``PAGE_SIZE_TOO_LARGE``)."""
    hourly_cost_budget: Annotated[int, Field(ge=1)] = 100000
    """Cost units (as ``LKK_MAX_QUERY_COST`` counts them) one signed-in customer, or one
    client address when nobody is signed in, may spend per hour (``RATE_LIMITED``)."""
    api_key_hourly_cost_budget: Annotated[int, Field(ge=1)] = 1000000
    """Cost units one API key may spend per hour, unless set for the key
    (``lkk apikey limits``)."""
    api_key_requests_per_minute: Annotated[int, Field(ge=1)] = 600
    """Requests one API key may send per minute, unless set for the key."""
    ws_connections_per_minute: Annotated[int, Field(ge=1)] = 20
    """WebSocket connections one client address may open per minute (``/graphql``)."""
    max_request_bytes: Annotated[int, Field(ge=1024)] = 65536
    """Largest request body ``/graphql`` reads; a larger one is refused with 413."""
    introspection: bool | None = None
    """Answer schema introspection (``__schema``, ``__type``); by default on everywhere
    except production."""
    graphql_suggestions: bool | None = None
    """Hints such as "Did you mean 'balance'?" in GraphQL errors; by default on everywhere
    except production."""
    partner_allow_list: bool | None = None
    """API keys without the ``operator`` scope may run only the operations registered for
    them (``lkk apikey allow``); by default on everywhere except demo."""
    apq_ttl_seconds: Annotated[int, Field(ge=60)] = 86400
    """How long a document registered by automatic persisted queries is kept."""
    cors_origins: str = ""
    """Origins (``https://lk.example.ru``, comma-separated) whose pages may call the API with
    the customer's cookie; empty: none besides the gateway's own."""
    hsts_seconds: Annotated[int, Field(ge=0)] = 31536000
    """``Strict-Transport-Security`` max-age when ``public_url`` is https (0: no header)."""
    secret_key: SecretStr = SecretStr(_DEMO_SECRET)
    """Signs receipt URLs and other short-lived tokens; must be set in production."""
    log_level: str = "INFO"
    """Python logging level."""
    log_format: Literal["json", "text"] | None = None
    """Log lines as JSON or text; by default text for ``demo``/``emulators``, JSON otherwise."""

    billing_url: str = ""
    """SOAP endpoint of billing; empty: the billing emulator (host and port below)."""
    metering_url: str = ""
    """Base of metering's REST API; empty: the metering emulator."""
    acquirer_url: str = ""
    """Base of the acquirer's API; empty: the acquirer emulator."""
    acquirer_shop_id: str = "100500"
    """Shop id at the acquirer (HTTP Basic user)."""
    acquirer_secret_key: SecretStr = SecretStr("test_shop_secret")
    """Shop secret key at the acquirer (HTTP Basic password)."""
    acquirer_webhook_secret: SecretStr = SecretStr("test_webhook_secret")
    """HMAC key of the acquirer's signed webhooks."""
    sms_url: str = ""
    """Base of the SMS gateway; empty: the SMS emulator."""
    sms_api_key: SecretStr = SecretStr("demo-sms-key")
    """API key of the SMS gateway."""
    sms_sender: str = "LKK"
    """Sender name of our SMS."""
    smtp_host: str = ""
    """SMTP relay; empty: the mail emulator."""
    smtp_port: Port = 8025
    """SMTP port (also where the mail emulator listens)."""
    smtp_username: str = ""
    """SMTP login; empty: no authentication."""
    smtp_password: SecretStr = SecretStr("")
    """SMTP password."""
    smtp_use_tls: bool = False
    """Implicit TLS to the SMTP relay."""
    mail_from: str = "ЛКК <noreply@lkk.example.ru>"
    """From: of our letters."""

    upstream_timeout: Seconds = 5.0
    """Default total timeout of one upstream call, in seconds."""
    upstream_connect_timeout: Seconds = 2.0
    """Timeout of opening a connection to an upstream, in seconds."""
    upstream_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    """Connection pool under billing's httpx client (zeep needs httpx): ``aiohttp`` (several
    times cheaper per call, docs/performance.md) or httpx's own ``httpx``. The REST
    upstreams always use the gateway's own HTTP/1.1 client (``adapters/h1.py``)."""
    upstream_slow_ms: Seconds = 1000.0
    """An upstream answering a probe slower than this is reported DEGRADED."""
    status_cache_seconds: Annotated[float, Field(ge=0)] = 1.0
    """How long one round of upstream probes (``appInfo``) is reused."""
    breaker_failure_threshold: Annotated[int, Field(ge=1)] = 5
    """Failures in a row that open an upstream's circuit breaker."""
    breaker_reset_seconds: Seconds = 30.0
    """How long an open breaker waits before it lets one trial call through."""

    session_idle_minutes: Annotated[int, Field(ge=1)] = 30
    """A session unused this long expires (AUTH-4)."""
    session_absolute_hours: Annotated[int, Field(ge=1)] = 24
    """A session expires this long after sign-in, used or not."""
    session_cache_seconds: Annotated[float, Field(ge=0, le=60)] = 5.0
    """Each process remembers a live session and a customer's linked accounts this long
    instead of reading the store on every request; sign-out, credential and account changes
    forget them at once on every replica (over Redis when ``LKK_REDIS_URL`` is set). The
    bound on staleness should such a message be lost. ``0`` turns the cache off; it is off
    anyway with ``LKK_WORKERS`` > 1 and no Redis."""
    gc_threshold: Annotated[int, Field(ge=0)] = 10_000
    """Allocations between two collections of Python's youngest generation (Python's own
    default is 700), and the objects alive at start frozen out of collection. ``0`` leaves
    Python's collector as it is."""
    response_cache_seconds: Annotated[float, Field(ge=0, le=60)] = 5.0
    """A signed-in customer's answer to a query is kept this long at most (less when the
    upstream data in it stops being fresh sooner) and given again to the same session for
    the same request; any change of theirs forgets it on every replica. ``0`` turns it off;
    it shares the session cache's invalidation, so it is off whenever that cache is: with
    ``LKK_SESSION_CACHE_SECONDS=0``, with ``LKK_WORKERS`` > 1 and no Redis, and while the
    Redis subscription is down."""
    session_cookie_secure: bool = True
    """Mark the session cookie ``Secure`` (browsers accept it on http://localhost too)."""
    code_ttl_seconds: Annotated[int, Field(ge=30)] = 300
    """Lifetime of a confirmation code."""
    code_max_attempts: Annotated[int, Field(ge=1)] = 5
    """Wrong entries that burn a confirmation code."""
    code_resend_cooldown_seconds: Annotated[int, Field(ge=0)] = 60
    """Pause before another code may go to the same address."""
    codes_per_hour: Annotated[int, Field(ge=1)] = 5
    """Codes one e-mail or phone may receive per hour."""
    sign_in_max_failures: Annotated[int, Field(ge=1)] = 10
    """Failed sign-ins per login (or account) in the window before it is locked."""
    sign_in_window_seconds: Annotated[int, Field(ge=60)] = 900
    """The window of the sign-in failure limits (and the lock's length)."""
    sign_in_address_max_failures: Annotated[int, Field(ge=1)] = 50
    """Failed sign-ins per client address in the window before it is locked."""
    codes_per_address_per_hour: Annotated[int, Field(ge=1)] = 30
    """Codes one client address may request per hour, whatever the recipients."""
    argon2_memory_kib: Annotated[int, Field(ge=8)] = 65536
    """Argon2id memory cost per password hash."""
    argon2_time_cost: Annotated[int, Field(ge=1)] = 3
    """Argon2id passes per password hash."""
    privacy_policy_version: str = "2026-01"
    """Version of the privacy policy customers accept (REG-2)."""

    utility_timezone: str = "Asia/Yekaterinburg"
    """The utility's local time (reading window, statement publication)."""
    statement_publication_day: Annotated[int, Field(ge=1, le=28)] = 10
    """Day of month M+1 from which month M's statement and receipt are shown (CHG-2),
    00:00 utility time."""
    receipt_url_ttl_seconds: Annotated[int, Field(ge=60, le=86400)] = 3600
    """Lifetime of a signed receipt link (``Statement.receiptUrl``)."""
    payment_history_months: Annotated[int, Field(ge=1, le=120)] = 36
    """How many months back the payment history reaches (PAY-1)."""

    readings_window_first_day: Annotated[int, Field(ge=1, le=28)] = 1
    """First day of the month on which readings are accepted (MTR-2), utility time."""
    readings_window_last_day: Annotated[int, Field(ge=1, le=31)] = 25
    """Last day of the month on which readings are accepted (MTR-2), inclusive."""
    readings_consumption_ceiling_kwh: Annotated[Decimal, Field(gt=0)] = Decimal(3000)
    """Consumption per zone since the last reading above which the customer must confirm
    the value (``confirmHighConsumption``, MTR-4)."""
    diagnostics_per_hour: Annotated[int, Field(ge=1)] = 20
    """Diagnostic reports one customer or client address may send per hour (SET-6)."""
    federation: bool = False
    """Serve the schema as an Apollo Federation 2 subgraph (adds ``_service`` and
    ``_entities``), so an operator's supergraph can compose it."""
    tracing_enabled: bool = False
    """Trace GraphQL operations, resolvers and upstream calls with OpenTelemetry."""
    otel_exporter_endpoint: str = ""
    """OTLP/HTTP endpoint for the traces, e.g. ``http://collector:4318/v1/traces``; empty:
    spans are made (and propagated upstream as ``traceparent``) but not exported."""
    otel_service_name: str = "lkk-gateway"
    """``service.name`` of the traces."""
    metrics_token: SecretStr = SecretStr("")
    """Bearer token ``/metrics`` requires; empty: open (scrape it on the internal network only)."""
    outbox_poll_seconds: Annotated[float, Field(gt=0)] = 2.0
    """How often the outbox worker looks for writes to deliver (readings, bookings)."""
    outbox_max_attempts: Annotated[int, Field(ge=1)] = 20
    """Delivery attempts of one outbox write before it is dead-lettered (MTR-7)."""
    outbox_backoff_seconds: Annotated[float, Field(gt=0)] = 5.0
    """First retry delay of an outbox write; doubles per attempt, with full jitter."""
    outbox_backoff_max_seconds: Annotated[float, Field(gt=0)] = 600.0
    """Cap of the retry delay of an outbox write."""
    outbox_lease_seconds: Annotated[float, Field(gt=0)] = 60.0
    """How long a worker holds a claimed write before another may take it over."""
    payment_max_amount: Annotated[Decimal, Field(gt=0)] = Decimal(500000)
    """Largest amount of one card payment, roubles (``PAYMENT_AMOUNT_TOO_LARGE`` above)."""
    acquirer_webhook_tolerance_seconds: Annotated[int, Field(ge=10)] = 300
    """Acquirer notifications signed further than this from now (either way) are refused."""
    payment_stuck_seconds: Annotated[float, Field(gt=0)] = 900.0
    """A payment in one state longer than this is reconciled with the acquirer and billing."""
    payment_reconcile_seconds: Annotated[float, Field(gt=0)] = 60.0
    """How often the reconciliation worker scans for stuck payments."""
    payment_booking_check_seconds: Annotated[float, Field(gt=0)] = 5.0
    """How often payments posted to billing are looked up in ``GetPayments`` (→ ``BOOKED``)."""

    # Emulator ports: the demo and `lkk emulators` use them; tests pick free ones.
    emulator_host: str = "127.0.0.1"
    """Interface the emulators listen on (and the default upstream host)."""
    billing_port: Port = 8101
    """Port of the billing emulator."""
    metering_port: Port = 8102
    """Port of the metering emulator."""
    acquirer_port: Port = 8103
    """Port of the acquirer emulator."""
    sms_port: Port = 8104
    """Port of the SMS emulator."""
    mail_http_port: Port = 8105
    """Port of the mail emulator's inbox pages."""
    billing_faults: str = ""
    """Initial fault knobs of the billing emulator, e.g. ``latency_ms=300,error_rate=0.1``."""
    metering_faults: str = ""
    """Initial fault knobs of the metering emulator."""
    acquirer_faults: str = ""
    """Initial fault knobs of the acquirer emulator."""
    sms_faults: str = ""
    """Initial fault knobs of the SMS emulator."""
    mail_faults: str = ""
    """Initial fault knobs of the mail emulator (SMTP and pages)."""
    booking_delay_seconds: Annotated[float, Field(ge=0)] = 5.0
    """Billing emulator: how long a posted payment takes to show as booked."""
    maintenance_window: str = "02:00-02:10"
    """Metering emulator: nightly maintenance (local time, ``HH:MM-HH:MM``; empty: none)."""

    @model_validator(mode="after")
    def _default_upstreams_to_emulators(self) -> Settings:
        # Unset upstream URLs point at the emulators, following their configured ports.
        base = f"http://{self.emulator_host}"
        defaults = {
            "billing_url": f"{base}:{self.billing_port}/billing",
            "metering_url": f"{base}:{self.metering_port}/api/v1",
            "acquirer_url": f"{base}:{self.acquirer_port}",
            "sms_url": f"{base}:{self.sms_port}",
            "smtp_host": self.emulator_host,
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        return self

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.is_production and self.secret_key.get_secret_value() == _DEMO_SECRET:
            raise ValueError("LKK_SECRET_KEY must be set in production")
        return self

    @field_validator("utility_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)  # a typo fails at start, not at the first reading
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone: {value}") from exc
        return value

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, value: str) -> str:
        # Cookies ride on cross-site calls from these origins: each must be named, never "*".
        import re

        for origin in (o.strip().rstrip("/") for o in value.split(",") if o.strip()):
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        return value

    @property
    def is_production(self) -> bool:
        """Whether developer conveniences (GraphiQL, demo keys, migrations) are off."""
        return self.environment is Environment.PRODUCTION

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is on unless switched off, and off by default in production."""
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        """Introspection is on unless switched off, and off by default in production."""
        return self.introspection if self.introspection is not None else not self.is_production

    @property
    def suggestions_enabled(self) -> bool:
        """Hints ("Did you mean …?") are on unless switched off, off by default in production."""
        if self.graphql_suggestions is not None:
            return self.graphql_suggestions
        return not self.is_production

    @property
    def partner_allow_list_enabled(self) -> bool:
        """Partner keys are held to their registered operations, except by default in demo."""
        if self.partner_allow_list is not None:
            return self.partner_allow_list
        return self.environment is not Environment.DEMO

    @property
    def cors_origin_list(self) -> list[str]:
        """``cors_origins`` as a list of origins (scheme, host and port; no trailing slash)."""
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def should_migrate_on_start(self) -> bool:
        """Migrations run at start in demo and development unless switched off."""
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return not self.is_production

    @property
    def effective_database_url(self) -> str:
        """The store URL: the configured one, else SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.sqlite3').as_posix()}"

    @property
    def effective_public_url(self) -> str:
        """Base URL of the gateway as clients see it."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


def reference_markdown() -> str:
    """``docs/configuration.md``: every setting with its default and meaning, generated
    from this class so that it cannot drift."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `gateway/settings.py` (`make docs`); a test fails when it is stale.",
        "Every setting is an environment variable; the defaults run the demo.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, SecretStr):
            shown = "(secret, demo value)" if default.get_secret_value() else "(empty)"
        elif default is None:
            shown = "(derived)"
        elif default == "":
            shown = "(empty)"
        else:
            shown = f"`{getattr(default, 'value', default)}`"
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        lines.append(f"| `LKK_{name.upper()}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"
