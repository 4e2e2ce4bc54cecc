"""Billing's HTTP face: the WSDL at ``GET /billing?wsdl`` and SOAP 1.1 at ``POST /billing``.

Also ``GET /_admin/receipts``: how many receipts were drawn and how many are cached.

Requests are dispatched by the body's payload element; ``SOAPAction`` is optional and, when
sent, not checked (the old service never did). ``GET /billing`` without ``?wsdl`` shows a
short Russian page, as the old service's front end does.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.base import CallLog
from emulators.billing.receipts import ReceiptCache
from emulators.billing.service import BillingService
from emulators.billing.soap import (
    CONTENT_TYPE,
    BillingFault,
    envelope,
    fault_body,
    parse_request,
    wsdl_document,
)

PATH = "/billing"


def fault_response(fault: BillingFault) -> Response:
    """A Fault, with HTTP 500 as SOAP 1.1 over HTTP requires."""
    return Response(fault_body(fault), status_code=500, media_type=CONTENT_TYPE)


def soap_routes(service: BillingService, calls: CallLog, *, address: str) -> list[BaseRoute]:
    """The ``/billing`` route: WSDL on GET, operations on POST."""

    async def describe(request: Request) -> Response:
        if any(key.lower() == "wsdl" for key in request.query_params):
            calls.record("GetWsdl")
            return Response(wsdl_document(address), media_type=CONTENT_TYPE)
        return HTMLResponse(
            '<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8">'
            "<title>Сервис биллинга</title></head><body>"
            "<h1>Сервис биллинга</h1><p>Веб-сервис SOAP 1.1. Описание сервиса: "
            f'<a href="{PATH}?wsdl">WSDL</a>.</p></body></html>'
        )

    async def call(request: Request) -> Response:
        try:
            payload = parse_request(await request.body())
        except BillingFault as fault:
            calls.record("Unknown")
            return fault_response(fault)
        try:
            answer = await service.handle(payload)
        except BillingFault as fault:
            return fault_response(fault)
        return Response(envelope(answer), media_type=CONTENT_TYPE)

    return [
        Route(PATH, describe, methods=["GET"]),
        Route(PATH, call, methods=["POST"]),
    ]


def admin_routes(receipts: ReceiptCache) -> list[BaseRoute]:
    """Billing's own admin route (beside the shared ``/_admin`` of every emulator)."""

    async def receipt_stats(request: Request) -> Response:
        return JSONResponse({"renders": receipts.renders, "cached": receipts.cached})

    return [Route("/_admin/receipts", receipt_stats, methods=["GET"])]
