"""Fault knobs shared by every emulator: latency, error rate, outage, slow body, malformed.

Set at start from a compact string (``"latency_ms=300,error_rate=0.2"``, from the
``LKK_<SYSTEM>_FAULTS`` setting) and at run time through ``PUT /_admin/faults``. The ASGI
middleware here applies them to every request except the admin API.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Faults:
    """What an emulator does wrong right now. All zero/false means healthy."""

    latency_ms: float = 0.0
    """Fixed delay before answering."""
    jitter_ms: float = 0.0
    """Extra random delay, uniform in ``[0, jitter_ms]``."""
    error_rate: float = 0.0
    """Fraction of requests answered with the system's own internal error."""
    outage: bool = False
    """Every request answered as the system's front proxy does when it is down (503)."""
    slow_body_ms: float = 0.0
    """The body is sent in small pieces spread over this time, after prompt headers."""
    malformed: bool = False
    """The body is cut short and garbled, as by a broken proxy."""

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; unknown knobs or bad values raise ``ValueError``."""
        known = {f.name: f for f in fields(self)}
        for name, raw in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault knob {name!r}; known: {sorted(known)}")
            current = getattr(self, name)
            value: Any
            if isinstance(current, bool):
                value = raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes"}
            else:
                value = float(raw)
                if value < 0 or (name == "error_rate" and value > 1):
                    raise ValueError(f"{name} out of range: {raw!r}")
            setattr(self, name, value)

    def reset(self) -> None:
        """Back to healthy."""
        self.update(asdict(Faults()))

    def as_dict(self) -> dict[str, Any]:
        """The knobs as JSON-ready values."""
        return asdict(self)

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """Build from ``"knob=value,knob=value"`` (empty string: healthy)."""
        faults = cls()
        pairs = [item.split("=", 1) for item in spec.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"fault spec must be knob=value pairs: {spec!r}")
        faults.update({key.strip(): value.strip() for key, value in pairs})
        return faults


@dataclass(frozen=True)
class CannedResponse:
    """A whole HTTP answer an emulator gives when a fault strikes."""

    status: int
    body: bytes
    content_type: str

    async def send(self, send: Send) -> None:
        """Write this answer to an ASGI connection."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", self.content_type.encode()),
                    (b"content-length", str(len(self.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


NGINX_503 = CannedResponse(
    503,
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx/1.10.3</center>\r\n</body>\r\n</html>\r\n",
    "text/html",
)


def garble(body: bytes) -> bytes:
    """Cut a body in half and append noise, so no parser can accept it."""
    return body[: max(len(body) // 2, 1)] + b"\x00<<garbled>>\xff"


class FaultMiddleware:
    """Applies the current :class:`Faults` to each request outside ``/_admin``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        faults: Faults,
        rng: random.Random,
        error_response: Callable[[], CannedResponse],
        outage_response: CannedResponse = NGINX_503,
    ) -> None:
        self.app = app
        self.faults = faults
        self.rng = rng
        self.error_response = error_response
        self.outage_response = outage_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_admin"):
            await self.app(scope, receive, send)
            return
        faults = self.faults
        delay = faults.latency_ms + (
            self.rng.uniform(0, faults.jitter_ms) if faults.jitter_ms else 0
        )
        if delay:
            await asyncio.sleep(delay / 1000)
        if faults.outage:
            await self.outage_response.send(send)
            return
        if faults.error_rate and self.rng.random() < faults.error_rate:
            await self.error_response().send(send)
            return
        if not (faults.malformed or faults.slow_body_ms):
            await self.app(scope, receive, send)
            return
        await self._distorted(scope, receive, send)

    async def _distorted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, buffer its answer, then send it garbled and/or slowly."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        assert start is not None, "the app sent no response"
        body = b"".join(chunks)
        if self.faults.malformed:
            body = garble(body)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        pieces = 10 if self.faults.slow_body_ms else 1
        size = max(len(body) // pieces + 1, 1)
        for offset in range(0, max(len(body), 1), size):
            if self.faults.slow_body_ms:
                await asyncio.sleep(self.faults.slow_body_ms / 1000 / pieces)
            last = offset + size >= len(body)
            await send(
                {
                    "type": "http.response.body",
                    "body": body[offset : offset + size],
                    "more_body": not last,
                }
            )
