"""Liveness and readiness probes for load balancers and orchestrators (GW-5)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.services import Services

logger = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    """Alive: the process serves HTTP. Never touches a dependency."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to take traffic: the store answers. Upstream breakers are reported but do not
    gate readiness: every replica shares the same upstreams, and taking all replicas out
    during a billing outage would hide the stale data they can still serve."""
    services: Services = request.app.state.services
    try:
        await services.store.ping()
        store_ok = True
    except (SQLAlchemyError, OSError) as exc:
        logger.warning("store not ready: %s", type(exc).__name__)
        store_ok = False
    breakers = {u.name: u.resilience.breaker.state.value for u in services.upstreams.all()}
    body = {"status": "ready" if store_ok else "unready", "store": store_ok, "breakers": breakers}
    return JSONResponse(body, status_code=200 if store_ok else 503)


routes = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET", "HEAD"]),
]
