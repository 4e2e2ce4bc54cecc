"""``/graphql`` over HTTP exactly as the GraphQL-over-HTTP specification says (GW-1), and
over WebSocket with an authenticated, rate-limited connection (graphql-transport-ws).

Strawberry's ASGI view serves the protocol; this subclass takes over the HTTP exchange to
follow the specification to the letter and to add what a public API needs:

* **Accept negotiation.** ``application/graphql-response+json`` when the client accepts it
  (and when it sends no ``Accept`` at all: the specification's default since 2025),
  ``application/json`` for ``application/json``, ``application/*`` and ``*/*``; anything else
  is ``406``. Both are UTF-8 and say so.
* **Status codes.** With ``application/graphql-response+json`` a request that never ran (it
  did not parse or validate, its variables were wrong, a limit refused it) is a 4xx — 400,
  429 for a rate limit, 403/404 for persisted operations — and one that ran is 200 with its
  ``data`` (even with field errors). With ``application/json`` every well-formed request is
  200. A request that is not well-formed is 400 either way.
* **GET for queries only**: a mutation over GET is ``405`` with ``Allow: POST``; methods
  other than GET and POST are ``405`` with ``Allow: GET, POST``.
* **POST bodies** are ``application/json`` in UTF-8 (else ``415``), at most
  ``LKK_MAX_REQUEST_BYTES`` (else ``413``, checked before and while reading); a JSON array
  (a batch) is ``400``: batching is off.
* **Persisted operations and APQ** (``gateway/access/operations.py``): a partner key runs only
  the documents registered for it, sent by id; first-party apps may send a document's hash
  instead of the document (Apollo's automatic persisted queries).
* **Rate limits**: an API key's requests per minute are counted before anything runs; the
  hourly cost budget is charged by the schema (``schema/usage/budget.py``).
* **Masking**: an exception that escapes everything becomes ``500`` with ``INTERNAL`` and the
  request id (``schema/protection.py`` masks the ones inside GraphQL execution).
* **WebSocket**: connections per client address per minute are limited at the handshake
  (``429`` where the server can send it, else the handshake is refused); a partner's key is
  refused there (it may run registered operations only, over HTTP). ``connection_init``
  is authenticated by ``GatewayGraphQL.on_ws_connect`` (``gateway/app.py``,
  ``gateway/security/websocket.py``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from adapters import freshness
from gateway.access.operations import document_id, parse_document_id
from gateway.access.usage import LimitExceeded
from gateway.http.response_cache import KeptAnswer
from gateway.http.security_headers import graphiql_policy
from gateway.observability import new_request_id, request_id_var
from gateway.security.web import credentials
from gateway.services import Services
from schema.context import Context
from schema.errors import GraphQLErrorCode
from schema.protection import internal_message, masked
from schema.usage import rate_limited
from schema.usage.budget import pay

logger = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
ALLOWED_METHODS = "GET, POST"

_CODE = GraphQLErrorCode
_STATUS_OF_CODE = {
    _CODE.RATE_LIMITED.value: 429,
    _CODE.INTERNAL.value: 500,
    _CODE.PERSISTED_QUERY_NOT_FOUND.value: 404,
    _CODE.PERSISTED_QUERY_REQUIRED.value: 403,
    _CODE.FORBIDDEN.value: 403,
    _CODE.UNAUTHENTICATED.value: 401,
}
"""HTTP status of a request that did not run, by the code of its error
(``application/graphql-response+json`` only; 400 for every other code)."""

APQ_NOT_FOUND = "PersistedQueryNotFound"
"""The message Apollo's clients look for to send the document with its hash."""


class Refusal(Exception):
    """A request refused before (or instead of) GraphQL execution.

    ``graphql_level``: the request was well-formed and the refusal is a GraphQL request
    error (its status applies to ``application/graphql-response+json`` only; with
    ``application/json`` it is 200). Otherwise the request was not well-formed HTTP for
    GraphQL, and ``status`` applies whatever the media type.
    """

    def __init__(
        self,
        status: int,
        code: GraphQLErrorCode,
        message: str,
        *,
        graphql_level: bool = False,
        headers: dict[str, str] | None = None,
        extensions: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.graphql_level = graphql_level
        self.headers = headers or {}
        self.extensions = extensions or {}


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in for an ``Accept`` header, or None when it allows neither
    of ours (406). Highest ``q`` wins; among equals an exact type beats a wildcard, then the
    one listed first."""
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE
    best: tuple[float, int, int, str] | None = None
    for index, part in enumerate(accept.split(",")):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        acceptable_charset = True
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif name == "charset" and value not in ("utf-8", "utf8"):
                acceptable_charset = False
        media = media.lower()
        if quality <= 0 or not acceptable_charset:
            continue
        if media in (GRAPHQL_RESPONSE, JSON):
            candidate = (quality, 0, index, media)
        elif media in ("application/*", "*/*"):
            candidate = (quality, 1, index, JSON)
        else:
            continue
        if best is None or (-candidate[0], candidate[1], candidate[2]) < (
            -best[0],
            best[1],
            best[2],
        ):
            best = candidate
    return best[3] if best is not None else None


@dataclass(frozen=True)
class GraphQLParams:
    """The parameters of a GraphQL-over-HTTP request, checked for shape."""

    query: str | None
    operation_name: str | None
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None
    document_id: object = None
    """``documentId`` as sent (persisted documents), if any."""

    @classmethod
    def of(cls, data: object) -> GraphQLParams:
        """Check a decoded body (or the query parameters of a GET)."""
        if isinstance(data, list):
            raise _malformed(
                "Пакетные запросы (массив операций в одном теле) не поддерживаются: "
                "отправляйте каждую операцию отдельным запросом."
            )
        if not isinstance(data, dict):
            raise _malformed("Тело запроса должно быть JSON-объектом с полем query.")
        query, name = data.get("query"), data.get("operationName")
        variables, extensions = data.get("variables"), data.get("extensions")
        if query is not None and not isinstance(query, str):
            raise _malformed("Поле query должно быть строкой.")
        if name is not None and not isinstance(name, str):
            raise _malformed("Поле operationName должно быть строкой.")
        if variables is not None and not isinstance(variables, dict):
            raise _malformed("Поле variables должно быть JSON-объектом.")
        if extensions is not None and not isinstance(extensions, dict):
            raise _malformed("Поле extensions должно быть JSON-объектом.")
        return cls(query, name or None, variables, extensions, data.get("documentId"))


def _malformed(message: str) -> Refusal:
    return Refusal(400, GraphQLErrorCode.BAD_REQUEST, message)


class TextFrames(ASGIWebSocketAdapter):
    """Sends every graphql-transport-ws message as a text frame. Strawberry sends bytes as
    binary frames, and the view's ``encode_json`` may return bytes (orjson); browsers hand a
    binary frame to the ``graphql-ws`` client as a Blob, which it cannot parse."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        try:
            await self.ws.send_text(encoded.decode() if isinstance(encoded, bytes) else encoded)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLOverHTTP(GraphQL[Context, None]):
    """Strawberry's ASGI GraphQL view, held to the GraphQL-over-HTTP specification, with the
    gateway's persisted operations, rate limits and authenticated WebSockets."""

    websocket_adapter_class = TextFrames

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            websocket = WebSocket(scope, receive=receive, send=send)
            if await self._admit_websocket(websocket):
                await self.run(websocket)
            return
        if scope["type"] != "http":  # pragma: no cover - Starlette routes only these here
            raise ValueError(f"unknown scope type: {scope['type']!r}")
        request = Request(scope, receive=receive)
        media = negotiate(request.headers.get("accept"))
        try:
            response = await self._serve(request, media)
        except Refusal as refusal:
            response = self._refusal(refusal, media or JSON)
        except Exception:  # the outermost error masker of /graphql: nothing may leak
            request_id = request_id_var.get() or new_request_id()
            logger.exception("unexpected error serving /graphql")
            response = self._refusal(
                Refusal(
                    500,
                    GraphQLErrorCode.INTERNAL,
                    internal_message(request_id),
                    extensions={"requestId": request_id},
                ),
                media or JSON,
            )
        await response(scope, receive, send)

    # --- HTTP --------------------------------------------------------------------------------

    async def _serve(self, request: Request, media: str | None) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"allow": ALLOWED_METHODS})
        if request.method not in ("GET", "POST"):
            raise Refusal(
                405,
                GraphQLErrorCode.METHOD_NOT_ALLOWED,
                "GraphQL принимает запросы методами GET (только чтение) и POST.",
                headers={"allow": ALLOWED_METHODS},
            )
        if request.method == "GET" and self.graphql_ide and _wants_ide(request):
            return await self.render_graphql_ide(request)
        if media is None:
            raise Refusal(
                406,
                GraphQLErrorCode.NOT_ACCEPTABLE,
                f"Ответ возможен только в форматах {GRAPHQL_RESPONSE} и {JSON}: "
                "укажите один из них в заголовке Accept.",
            )
        services: Services = request.app.state.services
        params = await self._params(request, services.settings.max_request_bytes)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        if context.principal is not None:
            try:
                await services.access.usage.admit_request(context.principal.key_id)
            except LimitExceeded as exceeded:
                raise _limited(exceeded) from None
        query, apq_digest = await self._document(params, context, services)
        keeper, viewer = services.responses, context.viewer
        key = (
            keeper.key(viewer.session_id, query, params.operation_name, params.variables)
            if viewer is not None and context.principal is None
            else None
        )
        if key is None:
            response, _ = await self._run(
                request, params, query, apq_digest, context, media, sub_response
            )
            return response
        started = time.perf_counter()
        kept = await keeper.find(key)
        # A kept answer pays its cost like a run one; over budget, the request runs and is
        # refused as usual.
        if kept is not None and (kept.cost <= 0 or await pay(context, kept.cost) is None):
            services.operations.observe(
                kept.operation_name, "query", "kept", time.perf_counter() - started
            )
            return _kept(kept, media)
        leading, kept = keeper.lead(key), None
        try:
            began = keeper.viewers.tick
            tracked = freshness.track()
            response, clean = await self._run(
                request, params, query, apq_digest, context, media, sub_response
            )
            if (
                viewer is not None
                and clean
                and response.status_code == 200
                and not sub_response.status_code
                and "set-cookie" not in sub_response.headers
            ):
                kept = keeper.keep(key, bytes(response.body), viewer.user_id, tracked, began)
        finally:
            if leading is not None:
                keeper.settle(key, leading, kept)
        return response

    async def _run(
        self,
        request: Request,
        params: GraphQLParams,
        query: str,
        apq_digest: str | None,
        context: Context,
        media: str,
        sub_response: Response,
    ) -> tuple[Response, bool]:
        """Execute the document and answer; and whether it ran with no error and nothing
        but data (an answer that may be kept)."""
        result = await self._execute(request, params, query, context)
        errors = [masked(error) for error in result.errors or ()]
        ran = not _is_request_error(result.data, errors)
        if apq_digest is not None and ran:
            services: Services = request.app.state.services
            await services.access.apq.put(apq_digest, query)
        response = self._answer(result, errors, ran=ran, media=media, sub_response=sub_response)
        return response, ran and not errors and not result.extensions

    async def _params(self, request: Request, max_bytes: int) -> GraphQLParams:
        if request.method == "GET":
            values: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):
                if values.get(name):
                    values[name] = _json(values[name], name)
                else:
                    values.pop(name, None)
            return GraphQLParams.of(values)
        media_type, _, parameters = request.headers.get("content-type", "").partition(";")
        charset = _parameter(parameters, "charset")
        if media_type.strip().lower() != JSON or charset not in (None, "utf-8", "utf8"):
            raise Refusal(
                415,
                GraphQLErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "Тело запроса POST должно быть в формате application/json (UTF-8).",
            )
        body = await _read_body(request, max_bytes)
        try:
            return GraphQLParams.of(orjson.loads(body))
        except orjson.JSONDecodeError:
            pass  # the standard library reads what orjson refuses, or says what is wrong
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("Тело запроса не в кодировке UTF-8.") from None
        return GraphQLParams.of(_json(text, "body"))

    async def _document(
        self, params: GraphQLParams, context: Context, services: Services
    ) -> tuple[str, str | None]:
        """The document to run, and the hash under which to keep it in the APQ cache once it
        has validated (None: nothing to keep)."""
        access = services.access
        digest = _persisted_digest(params)
        principal = context.principal
        if access.is_held_to_allow_list(principal):
            assert principal is not None
            if params.query is not None or digest is None:
                raise Refusal(
                    403,
                    GraphQLErrorCode.PERSISTED_QUERY_REQUIRED,
                    "Ключ партнёра может выполнять только зарегистрированные для него "
                    "операции: передайте documentId вместо текста запроса.",
                    graphql_level=True,
                )
            document = await access.operations.document(principal.key_id, digest)
            if document is None:
                raise Refusal(
                    404,
                    GraphQLErrorCode.PERSISTED_QUERY_NOT_FOUND,
                    "Операция с таким documentId не зарегистрирована для вашего ключа API.",
                    graphql_level=True,
                )
            return document, None
        if digest is None:
            if params.query is None:
                raise _malformed("В запросе нет GraphQL-документа (параметр query).")
            return params.query, None
        if params.query is not None:
            if document_id(params.query) != digest:
                raise Refusal(
                    400,
                    GraphQLErrorCode.BAD_REQUEST,
                    "Хеш sha256Hash не совпадает с текстом запроса.",
                    graphql_level=True,
                )
            return params.query, digest
        if principal is not None:
            registered = await access.operations.document(principal.key_id, digest)
            if registered is not None:
                return registered, None
        cached = await access.apq.get(digest)
        if cached is None:
            raise Refusal(
                404, GraphQLErrorCode.PERSISTED_QUERY_NOT_FOUND, APQ_NOT_FOUND, graphql_level=True
            )
        return cached, None

    async def _execute(
        self, request: Request, params: GraphQLParams, query: str, context: Context
    ) -> ExecutionResult:
        allowed = (
            {OperationType.QUERY}
            if request.method == "GET"
            else {OperationType.QUERY, OperationType.MUTATION}
        )
        try:
            return await self.schema.execute(
                query,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=params.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.MUTATION:
                raise Refusal(
                    405,
                    GraphQLErrorCode.METHOD_NOT_ALLOWED,
                    "Изменения (mutation) выполняются только методом POST.",
                    headers={"allow": "POST"},
                ) from None
            raise Refusal(
                400,
                GraphQLErrorCode.BAD_REQUEST,
                "Подписки (subscription) работают только через WebSocket.",
                graphql_level=True,
            ) from None
        except CannotGetOperationTypeError as error:
            raise Refusal(
                400,
                GraphQLErrorCode.BAD_REQUEST,
                error.as_http_error_reason(),
                graphql_level=True,
            ) from None
        except MissingQueryError:
            raise _malformed("В запросе нет GraphQL-документа (параметр query).") from None

    def _answer(
        self,
        result: ExecutionResult,
        errors: list[GraphQLError],
        *,
        ran: bool,
        media: str,
        sub_response: Response,
    ) -> Response:
        body: GraphQLHTTPResponse = {}
        if ran:  # the spec: a request that did not run has no "data" at all
            body["data"] = result.data
        if errors:
            body["errors"] = [error.formatted for error in errors]
        if result.extensions:
            body["extensions"] = result.extensions
        response = self.create_response(body, sub_response)  # keeps the cookies resolvers set
        if not sub_response.status_code:
            response.status_code = 200 if ran or media == JSON else _status_of(errors)
        response.headers["content-type"] = f"{media}; charset=utf-8"
        _no_store(response)
        retry_after = [
            int((e.extensions or {}).get("retryAfter", 0) or 0)
            for e in errors
            if (e.extensions or {}).get("code") == GraphQLErrorCode.RATE_LIMITED.value
        ]
        if retry_after:
            response.headers["retry-after"] = str(max(max(retry_after), 1))
        return response

    def _refusal(self, refusal: Refusal, media: str) -> Response:
        status = 200 if refusal.graphql_level and media == JSON else refusal.status
        error = {
            "message": refusal.message,
            "extensions": {"code": refusal.code.value, **refusal.extensions},
        }
        response = Response(
            self.encode_json({"errors": [error]}),
            status_code=status,
            headers=refusal.headers,
            media_type=f"{media}; charset=utf-8",
        )
        _no_store(response)
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL with a Content-Security-Policy that lets exactly it run."""
        html = self.graphql_ide_html
        return HTMLResponse(
            html,
            headers={"content-security-policy": graphiql_policy(html, request.headers)},
        )

    # --- WebSocket -----------------------------------------------------------------------------

    async def _admit_websocket(self, websocket: WebSocket) -> bool:
        """Refuse a partner's key (its operations are registered ones, sent over HTTP: a
        socket would let it send any document), and count the connection against its
        address's limit, refusing the handshake when over (429 with the reason where the
        server supports denial responses, else 403)."""
        services: Services = websocket.app.state.services
        api_key = credentials(websocket).api_key
        if api_key and services.access.is_held_to_allow_list(
            await services.api_keys.authenticate(api_key)
        ):
            await websocket.close(code=1008)
            return False
        address = websocket.client.host if websocket.client else ""
        try:
            await services.access.usage.admit_connection(address)
        except LimitExceeded as exceeded:
            error = rate_limited(exceeded)
            if "websocket.http.response" in websocket.scope.get("extensions", {}):
                await websocket.send_denial_response(
                    JSONResponse(
                        {"errors": [error.formatted]},
                        status_code=429,
                        headers={"retry-after": str(max(int(exceeded.retry_after), 1))},
                    )
                )
            else:
                await websocket.close(code=1008)
            return False
        return True


def _wants_ide(request: Request) -> bool:
    params = request.query_params
    return (
        "query" not in params
        and "documentId" not in params
        and "extensions" not in params
        and "text/html" in request.headers.get("accept", "")
    )


def _parameter(parameters: str, wanted: str) -> str | None:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == wanted:
            return value.strip().strip('"').lower()
    return None


def _json(text: str, what: str) -> object:
    """``text`` read as the standard library reads JSON: besides standard JSON, integers
    past 64 bits, numbers past a double's range, ``NaN`` and escaped lone surrogates, which
    orjson refuses (a body is tried with orjson first: it reads what it accepts the same)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        where = "тело запроса" if what == "body" else f"параметр {what}"
        raise _malformed(f"Не удалось разобрать JSON: {where}.") from None


async def _read_body(request: Request, max_bytes: int) -> bytes:
    too_large = Refusal(
        413,
        GraphQLErrorCode.PAYLOAD_TOO_LARGE,
        f"Тело запроса больше допустимых {max_bytes} байт.",
        extensions={"limit": max_bytes},
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _malformed("Некорректный заголовок Content-Length.")
        if int(declared) > max_bytes:
            raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def _persisted_digest(params: GraphQLParams) -> str | None:
    """The document id a request names (``documentId`` or APQ's ``sha256Hash``), if any."""
    persisted = (params.extensions or {}).get("persistedQuery")
    if persisted is not None:
        if not isinstance(persisted, dict):
            raise _malformed("extensions.persistedQuery должно быть JSON-объектом.")
        if persisted.get("version") != 1:
            raise Refusal(
                400,
                GraphQLErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
                "Поддерживается только версия 1 протокола persistedQuery.",
                graphql_level=True,
            )
        digest = parse_document_id(persisted.get("sha256Hash"))
        if digest is None:
            raise _malformed("sha256Hash должен быть SHA-256 в шестнадцатеричной записи.")
        return digest
    if params.document_id is None:
        return None
    digest = parse_document_id(params.document_id)
    if digest is None:
        raise _malformed('documentId должен иметь вид "sha256:<64 шестнадцатеричные цифры>".')
    return digest


def _is_request_error(data: object, errors: list[GraphQLError]) -> bool:
    """Whether a result is a GraphQL request error (nothing ran): no data, and no error
    belongs to a field (field errors carry a path)."""
    return data is None and bool(errors) and all(error.path is None for error in errors)


def _status_of(errors: list[GraphQLError]) -> int:
    for error in errors:
        status = _STATUS_OF_CODE.get(str((error.extensions or {}).get("code", "")))
        if status is not None:
            return status
    return 400


def _limited(exceeded: LimitExceeded) -> Refusal:
    error = rate_limited(exceeded)
    extensions = dict(error.extensions or {})
    extensions.pop("code", None)
    return Refusal(
        429,
        GraphQLErrorCode.RATE_LIMITED,
        exceeded.message,
        graphql_level=True,
        headers={"retry-after": str(max(math.ceil(exceeded.retry_after), 1))},
        extensions=extensions,
    )


def _kept(kept: KeptAnswer, media: str) -> Response:
    """A kept answer as it was first given (200 with its data, whatever the media type)."""
    response = Response(kept.body, status_code=200, media_type=f"{media}; charset=utf-8")
    _no_store(response)
    return response


def _no_store(response: Response) -> None:
    # Answers carry personal data and depend on credentials and on Accept.
    response.headers["cache-control"] = "no-store"
    response.headers["vary"] = "Accept, Authorization, Cookie, X-Api-Key"
