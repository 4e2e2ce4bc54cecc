"""The backend of the upstream cache: in-process memory alone, or Redis shared by replicas.

Scaled out (``LKK_REDIS_URL`` set), every replica reads and writes one cache in Redis
(aiocache's Redis backend), so a value loaded by one replica spares the others the upstream
call, and an invalidation (``forget_meters`` after a reading, a booked payment) drops the
key for all of them at once: there is no per-replica copy that a pub/sub message would have
to reach. See docs/scale-out.md.

**Values are pickled, signed and allow-listed.** The cached values are the adapters' typed
records (dataclasses with ``Decimal``, ``date``, enums) and a few gateway records built from
them; a JSON codec for every one of them would be a second model to keep in step. Pickle
is safe here because nobody can make us load a pickle we did not write:

1. every entry carries an HMAC-SHA256 of its bytes under a key derived from
   ``LKK_SECRET_KEY``; an entry that does not verify (written by someone else, or under an
   old key) is not unpickled at all;
2. the unpickler only builds classes of :data:`CACHED_MODULES` that are dataclasses or
   enums, plus a short list of standard value types — never an arbitrary callable.

**Entries are namespaced by the shape of the cached types** (:func:`cache_namespace`): a
release that adds a field to a cached record reads and writes its own keys, so during a
rolling deploy old and new replicas never load each other's objects.

**Redis failures are cache misses.** A read that fails (Redis down, slower than
``LKK_REDIS_TIMEOUT_SECONDS``, an entry that does not verify) returns nothing and the value
is loaded from the upstream; a write that fails is dropped. Each is counted
(:attr:`FailSafeCache.errors`, the ``lkk_redis_errors_total{use="cache"}`` metric) and
logged at most once per :data:`LOG_EVERY_SECONDS`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import importlib
import io
import logging
import pickle
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from aiocache import BaseCache
from aiocache.backends.redis import RedisCache
from aiocache.serializers import BaseSerializer

from adapters.cache import UpstreamCache, memory_cache
from gateway.clock import Clock
from gateway.observability import Throttle
from gateway.settings import Settings

logger = logging.getLogger(__name__)

CACHED_MODULES = (
    "adapters.cache",
    "adapters.billing.models",
    "adapters.metering.models",
    "adapters.acquirer.models",
    "gateway.billing.history",
    "gateway.billing.receipts",
    "gateway.billing.statements",
)
"""Where the types of cached values are defined. A value of a type defined elsewhere cannot
be loaded back (the entry counts as an error and the value is loaded from the upstream):
add its module here. ``tests/gateway/test_cache_backend.py`` runs the cached reads through
this serializer and fails when one does not come back."""

_STANDARD_TYPES = {
    ("builtins", "object"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "complex"),
    ("builtins", "slice"),
    ("copyreg", "_reconstructor"),
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("uuid", "UUID"),
    ("zoneinfo", "ZoneInfo._unpickle"),
    ("zoneinfo._zoneinfo", "ZoneInfo._unpickle"),
    ("collections", "OrderedDict"),
    ("gateway.cache_backend", "read_only"),
}
"""Standard types a cached value may contain (tuples, lists, dicts, str, bytes, numbers and
None need no lookup)."""

_MAC_BYTES = 32
_MAGIC = b"lkk1"
LOG_EVERY_SECONDS = 10.0
"""Redis failures are logged at most this often per process (each one is counted)."""

try:  # redis-py is what aiocache's Redis backend raises through
    from redis.exceptions import RedisError

    _BACKEND_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
except ImportError:  # pragma: no cover - redis is a core dependency
    _BACKEND_ERRORS = (OSError, TimeoutError)


class CacheEntryRejected(ValueError):
    """A cached entry we did not write, or cannot build: it is treated as absent."""


_FAILURES: tuple[type[BaseException], ...] = (*_BACKEND_ERRORS, CacheEntryRejected)


def read_only(items: dict[Any, Any]) -> Mapping[Any, Any]:
    """A read-only mapping again (the adapters' records hold ``MappingProxyType``s, which
    pickle cannot store as they are)."""
    return MappingProxyType(items)


class _Pickler(pickle.Pickler):
    """Stores a ``MappingProxyType`` as the dict it shows, rebuilt by :func:`read_only`."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, MappingProxyType):
            return read_only, (dict(obj),)
        return NotImplemented


class _AllowListUnpickler(pickle.Unpickler):
    """Builds only allow-listed classes: a pickle naming anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _STANDARD_TYPES:
            return super().find_class(module, name)
        if module in CACHED_MODULES and "." not in name:
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and (
                dataclasses.is_dataclass(found) or issubclass(found, enum.Enum)
            ):
                return found
        raise CacheEntryRejected(f"{module}.{name} may not be loaded from the cache")


class SignedPickleSerializer(BaseSerializer):  # type: ignore[misc]
    """Pickles values with an HMAC-SHA256 in front; loads only what verifies, through an
    allow-list (see the module's docstring)."""

    DEFAULT_ENCODING = None  # bytes in, bytes out

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._key = hashlib.sha256(b"lkk-gateway upstream cache\0" + secret.encode()).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def dumps(self, value: Any) -> bytes:
        """``lkk1`` + MAC + pickle; :class:`CacheEntryRejected` for a value pickle cannot
        store (the value is then simply not cached)."""
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise CacheEntryRejected(f"value cannot be cached: {exc}") from exc
        body = buffer.getvalue()
        return _MAGIC + self._mac(body) + body

    def loads(self, value: bytes | None) -> Any:
        """The value, or :class:`CacheEntryRejected` when the entry does not verify or names
        a type outside the allow-list."""
        if value is None:
            return None
        if not isinstance(value, bytes | bytearray) or not value.startswith(_MAGIC):
            raise CacheEntryRejected("not an entry of this gateway")
        mac = value[len(_MAGIC) : len(_MAGIC) + _MAC_BYTES]
        body = bytes(value[len(_MAGIC) + _MAC_BYTES :])
        if not hmac.compare_digest(mac, self._mac(body)):
            raise CacheEntryRejected("entry signature does not verify")
        try:
            return _AllowListUnpickler(io.BytesIO(body)).load()
        except CacheEntryRejected:
            raise
        except (pickle.UnpicklingError, AttributeError, EOFError, ImportError, TypeError) as exc:
            raise CacheEntryRejected(f"entry cannot be loaded: {type(exc).__name__}") from exc


class FailSafeCache:
    """An aiocache cache whose failures are misses: ``get`` answers None and ``set`` and
    ``delete`` do nothing when the backend fails, and each failure is counted."""

    def __init__(self, backend: BaseCache, *, name: str = "cache") -> None:
        self.backend = backend
        self.name = name
        self.errors = 0
        """Failed reads and writes (Redis down or slow, entries that do not verify)."""
        self._log = Throttle(LOG_EVERY_SECONDS)

    def _failed(self, operation: str, exc: BaseException) -> None:
        self.errors += 1
        if self._log.allows():
            logger.warning(
                "%s %s failed, served as a miss: %s (%d failures so far)",
                self.name,
                operation,
                type(exc).__name__,
                self.errors,
            )

    async def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` when absent or unreadable."""
        try:
            return await self.backend.get(key, default=default)
        except _FAILURES as exc:
            self._failed("read", exc)
            return default

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Keep a value for ``ttl`` seconds; False when the backend could not."""
        try:
            await self.backend.set(key, value, ttl=ttl)
        except _FAILURES as exc:
            self._failed("write", exc)
            return False
        return True

    async def delete(self, key: str) -> bool:
        """Forget a value; False when the backend could not (it then expires on its own)."""
        try:
            await self.backend.delete(key)
        except _BACKEND_ERRORS as exc:
            self._failed("delete", exc)
            return False
        return True

    async def close(self) -> None:
        """Release the backend's connections."""
        try:
            await self.backend.close()
        except _BACKEND_ERRORS as exc:
            self._failed("close", exc)


def cache_namespace() -> str:
    """``lkk:<8 hex>``: a fingerprint of every cached type's fields (and every enum's
    members), so that releases with different shapes never share entries."""
    shapes: list[str] = []
    for module_name in CACHED_MODULES:
        module = importlib.import_module(module_name)
        for name, item in sorted(vars(module).items()):
            if not isinstance(item, type) or item.__module__ != module_name:
                continue
            if dataclasses.is_dataclass(item):
                fields = ",".join(f"{f.name}:{f.type}" for f in dataclasses.fields(item))
                shapes.append(f"{module_name}.{name}({fields})")
            elif issubclass(item, enum.Enum):
                members = ",".join(f"{m.name}={m.value!r}" for m in item)
                shapes.append(f"{module_name}.{name}[{members}]")
    digest = hashlib.sha256("\n".join(shapes).encode()).hexdigest()
    return f"lkk:{digest[:8]}"


class RedisBackend(RedisCache):  # type: ignore[misc]
    """aiocache's Redis backend without the calls redis-py 5+ reports as deprecated on every
    use: writes are ``SET … PX`` (aiocache 0.12 sends ``SETEX`` / ``PSETEX``), closing is
    ``aclose()``."""

    async def _set(
        self,
        key: str,
        value: Any,
        ttl: float | None = None,
        _cas_token: Any = None,
        _conn: Any = None,
    ) -> Any:
        if _cas_token is not None or ttl is None:
            return await super()._set(key, value, ttl=ttl, _cas_token=_cas_token, _conn=_conn)
        return await self.client.set(key, value, px=max(int(ttl * 1000), 1))

    async def _close(self, *args: Any, _conn: Any = None, **kwargs: Any) -> None:
        await self.client.aclose()  # aiocache calls the deprecated close()


def redis_cache(url: str, secret: str, *, timeout: float) -> BaseCache:
    """aiocache's Redis backend for ``redis[s]://[:password@]host[:port][/db]``, signed
    pickles, every command bounded by ``timeout`` seconds."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/") or "0"
    return RedisBackend(
        endpoint=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=int(database),
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme == "rediss",
        serializer=SignedPickleSerializer(secret),
        timeout=timeout,
        create_connection_timeout=timeout,
        connection_pool_kwargs={"socket_timeout": timeout},
    )


def upstream_cache(settings: Settings, clock: Clock) -> UpstreamCache:
    """The upstream cache of the settings: Redis shared by the replicas when
    ``LKK_REDIS_URL`` is set, else this process's memory (the embedded mode)."""

    def epoch() -> float:  # the gateway's clock: tests that move it age the entries too
        return clock.now().timestamp()

    if not settings.redis_url:
        return UpstreamCache(memory_cache(), clock=epoch)
    backend = FailSafeCache(
        redis_cache(
            settings.redis_url,
            settings.secret_key.get_secret_value(),
            timeout=settings.redis_timeout_seconds,
        )
    )
    return UpstreamCache(backend, namespace=cache_namespace(), clock=epoch)
