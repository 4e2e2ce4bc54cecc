"""The adapters of the five legacy systems, built once for the life of the app.

One HTTP client (connection pool, keep-alive) and one :class:`Resilience` (breaker,
retries) per upstream, closed when the app stops: the gateway's own lean HTTP/1.1 client for
the REST upstreams (``adapters/http.py`` over ``adapters/h1.py``), httpx's for billing, whose
SOAP client (zeep) needs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from httpx_aiohttp import AiohttpTransport
from opentelemetry.sdk.trace import TracerProvider

from adapters.acquirer import AcquirerClient
from adapters.billing import BillingClient, soap_http
from adapters.http import UpstreamHttp
from adapters.metering import MeteringClient
from adapters.notify import MailClient, SmsClient
from adapters.resilience import CircuitBreaker, Resilience
from gateway.settings import Settings
from gateway.system.status import Probeable


@dataclass(frozen=True)
class Upstreams:
    """The adapter of each legacy system."""

    billing: BillingClient
    metering: MeteringClient
    acquirer: AcquirerClient
    sms: SmsClient
    mail: MailClient

    def all(self) -> list[Probeable]:
        """Every adapter, in the order ``appInfo`` lists them."""
        return [self.billing, self.metering, self.acquirer, self.sms, self.mail]


def _resilience(settings: Settings, name: str, tracing: TracerProvider | None) -> Resilience:
    return Resilience(
        name,
        tracer=tracing.get_tracer("lkk.adapters") if tracing is not None else None,
        breaker=CircuitBreaker(
            name,
            failure_threshold=settings.breaker_failure_threshold,
            reset_seconds=settings.breaker_reset_seconds,
        ),
    )


def _transport(settings: Settings) -> httpx.AsyncBaseTransport | None:
    """The pooled keep-alive connections under billing's httpx client: aiohttp's, or
    httpx's own (``None``); see ``LKK_UPSTREAM_TRANSPORT`` and docs/performance.md."""
    if settings.upstream_transport != "aiohttp":
        return None
    return AiohttpTransport(
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=30)
    )


@asynccontextmanager
async def open_upstreams(
    settings: Settings, tracing: TracerProvider | None = None
) -> AsyncIterator[Upstreams]:
    """Build every adapter with its own long-lived HTTP client; close them on exit."""
    async with AsyncExitStack() as stack:

        async def client(base_url: str) -> UpstreamHttp:
            made = UpstreamHttp(
                base_url,
                timeout=settings.upstream_timeout,
                connect_timeout=settings.upstream_connect_timeout,
                trace=tracing is not None,
            )
            return await stack.enter_async_context(made)

        soap = soap_http(
            settings.billing_url,
            timeout=settings.upstream_timeout,
            connect_timeout=settings.upstream_connect_timeout,
            transport=_transport(settings),
            trace=tracing is not None,
        )

        yield Upstreams(
            billing=BillingClient(
                await stack.enter_async_context(soap),
                _resilience(settings, "billing", tracing),
                url=settings.billing_url,
            ),
            metering=MeteringClient(
                await client(settings.metering_url), _resilience(settings, "metering", tracing)
            ),
            acquirer=AcquirerClient(
                await client(settings.acquirer_url),
                _resilience(settings, "acquirer", tracing),
                shop_id=settings.acquirer_shop_id,
                secret_key=settings.acquirer_secret_key.get_secret_value(),
            ),
            sms=SmsClient(
                await client(settings.sms_url),
                _resilience(settings, "sms", tracing),
                api_key=settings.sms_api_key.get_secret_value(),
                sender=settings.sms_sender,
            ),
            mail=MailClient(
                settings.smtp_host,
                settings.smtp_port,
                _resilience(settings, "mail", tracing),
                sender=settings.mail_from,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value(),
                use_tls=settings.smtp_use_tls,
                timeout=settings.upstream_timeout,
            ),
        )
