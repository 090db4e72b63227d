"""A zarr v3 store whose values are Redis strings, and the connection handling it shares with
the Redis shared tier.

A ``redis.asyncio`` client belongs to the event loop it first ran on, while zarr runs
coroutines on several loops (its own loop thread for synchronous calls, the caller's loop for
asynchronous ones). :class:`LoopClients` therefore keeps one client per running loop, made on
first use, and closes each on its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import NoScriptError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "RedisStore and RedisTier need the redis client: pip install 'zarr-cachestore[redis]'"
    ) from error

__all__ = ["LoopClients", "LuaScript", "RedisStore", "RedisUnavailable"]

CONNECT_TIMEOUT = 2.0
"""Seconds to connect, unless the URL sets ``socket_connect_timeout``."""
REPLY_TIMEOUT = 10.0
"""Seconds to wait for a reply, unless the URL sets ``socket_timeout``."""
_CLOSE_TIMEOUT = 5.0
_SCAN_BATCH = 1000


class RedisUnavailable(ConnectionError):
    """The Redis server cannot be reached (down, restarting, or the network failed)."""


def _display(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + host))


@contextlib.contextmanager
def reaching(url: str) -> Iterator[None]:
    """Turn the client's connection and timeout errors into :class:`RedisUnavailable`."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as error:
        raise RedisUnavailable(f"cannot reach Redis at {_display(url)}: {error}") from error


# Closing tasks started from within their own loop, kept until done.
_closing: set[asyncio.Task[None]] = set()


class LoopClients:
    """One ``redis.asyncio`` client for ``url`` per running event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}

    def current(self) -> aioredis.Redis:
        """The client of the running loop, made on first use."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            self._forget_closed_loops()
            # One quick retry lets a pooled connection broken by a server restart reconnect;
            # a server that is down fails the call at once, one that hangs after the timeouts.
            client = aioredis.from_url(
                self.url,
                retry=Retry(NoBackoff(), 1),
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=REPLY_TIMEOUT,
            )
            self._clients[loop] = client
        return client

    def _forget_closed_loops(self) -> None:
        for loop in [loop for loop in self._clients if loop.is_closed()]:
            del self._clients[loop]

    async def aclose(self) -> None:
        """Close every client; the one of the running loop before returning."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()

    def close(self) -> None:
        """Close every client, each on its own loop; usable from any thread or loop."""
        clients, self._clients = self._clients, {}
        for loop, client in clients.items():
            if loop.is_closed():
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if loop is running:
                task = loop.create_task(client.aclose())
                _closing.add(task)
                task.add_done_callback(_closing.discard)
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                with contextlib.suppress(Exception):
                    future.result(_CLOSE_TIMEOUT)
            else:
                loop.run_until_complete(client.aclose())


class LuaScript:
    """A Lua script run by its digest, loaded into the server again when it was flushed."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, client: aioredis.Redis, *args: bytes | str | int | float) -> Any:
        try:
            return await client.evalsha(self.sha, 0, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, 0, *args)


# The bounds of a byte request of a value ``n`` bytes long, cut at its end (a suffix longer
# than the value is all of it), and the bytes of string ``key`` between them. Its arguments
# are those of :func:`range_args`.
RANGE_LUA = """
local function read_range(key, n, kind, a, b)
  local start, stop
  if kind == 'range' then start, stop = a, math.min(b, n)
  elseif kind == 'offset' then start, stop = a, n
  else start, stop = math.max(n - a, 0), n end
  if stop <= start then return '' end
  return redis.call('GETRANGE', key, start, stop - 1)
end
"""

_GET_RANGE = LuaScript(
    RANGE_LUA
    + """
local key = ARGV[1]
local n = redis.call('STRLEN', key)
if n == 0 and redis.call('EXISTS', key) == 0 then return false end
return read_range(key, n, ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
"""
)


def range_args(byte_range: ByteRequest) -> tuple[str, int, int]:
    """The kind and numbers :data:`RANGE_LUA` reads ``byte_range`` from."""
    if isinstance(byte_range, RangeByteRequest):
        return "range", byte_range.start, byte_range.end
    if isinstance(byte_range, OffsetByteRequest):
        return "offset", byte_range.offset, 0
    if isinstance(byte_range, SuffixByteRequest):
        return "suffix", byte_range.suffix, 0
    raise TypeError(
        f"Unexpected byte_range, got {byte_range!r}: pass a RangeByteRequest, "
        "OffsetByteRequest, SuffixByteRequest or None"
    )


def glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis ``MATCH`` pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class RedisStore(Store):
    """A zarr store that keeps each value as the Redis string ``prefix + key``.

    ``url`` is a redis-py URL (``redis://host:port/db``, ``rediss://`` for TLS, ``unix://``);
    its query sets client options such as ``socket_timeout`` (by default
    :data:`REPLY_TIMEOUT`) and ``socket_connect_timeout`` (:data:`CONNECT_TIMEOUT`).
    Every key the store lists, deletes or clears starts with ``prefix``; with an empty prefix
    that is the whole database. Connection failures and timeouts raise
    :class:`RedisUnavailable`, a :class:`ConnectionError`.
    """

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True

    def __init__(self, url: str, *, prefix: str = "zarr:", read_only: bool = False) -> None:
        if not isinstance(url, str) or "://" not in url:
            raise ValueError(
                f"RedisStore needs a Redis URL such as 'redis://127.0.0.1:6379/0', got {url!r}"
            )
        super().__init__(read_only=read_only)
        self.url = url
        self.prefix = prefix
        self._clients = LoopClients(url)

    # -- identity ---------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"RedisStore({_display(self.url)!r}, prefix={self.prefix!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RedisStore)
            and self.url == other.url
            and self.prefix == other.prefix
            and self.read_only == other.read_only
        )

    def __hash__(self) -> int:
        return hash((self.url, self.prefix, self.read_only))

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "prefix": self.prefix, "read_only": self.read_only}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], prefix=state["prefix"], read_only=state["read_only"])  # type: ignore[misc]

    def with_read_only(self, read_only: bool = False) -> RedisStore:
        """The same data, opened ``read_only``; it shares this store's connections, so closing
        either closes both."""
        view = type(self)(self.url, prefix=self.prefix, read_only=read_only)
        view._clients = self._clients
        return view

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        self._clients.close()
        super().close()

    def _client(self) -> aioredis.Redis:
        return self._clients.current()

    def _key(self, key: str) -> str:
        return self.prefix + key

    # -- reads --------------------------------------------------------------------------------

    async def get(
        self,
        key: str,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        prototype = prototype or default_buffer_prototype()
        await self._ensure_open()
        data: bytes | None
        with reaching(self.url):
            if byte_range is None:
                data = await self._client().get(self._key(key))  # type: ignore[assignment]
            else:
                kind, a, b = range_args(byte_range)
                data = await _GET_RANGE(self._client(), self._key(key), kind, a, b)
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        return list(
            await asyncio.gather(*(self.get(key, prototype, rng) for key, rng in key_ranges))
        )

    async def exists(self, key: str) -> bool:
        await self._ensure_open()
        with reaching(self.url):
            return bool(await self._client().exists(self._key(key)))

    async def getsize(self, key: str) -> int:
        await self._ensure_open()
        with reaching(self.url):
            async with self._client().pipeline(transaction=True) as pipe:
                pipe.exists(self._key(key))
                pipe.strlen(self._key(key))
                found, size = await pipe.execute()
        if not found:
            raise FileNotFoundError(key)
        return int(size)

    # -- writes -------------------------------------------------------------------------------

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        await self._ensure_open()
        if not isinstance(value, Buffer):
            raise TypeError(
                f"RedisStore.set() needs a zarr Buffer as value, got {type(value).__name__}"
            )
        with reaching(self.url):
            await self._client().set(self._key(key), value.to_bytes())

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self._check_writable()
        await self._ensure_open()
        with reaching(self.url):
            await self._client().set(self._key(key), value.to_bytes(), nx=True)

    async def delete(self, key: str) -> None:
        self._check_writable()
        await self._ensure_open()
        with reaching(self.url):
            await self._client().delete(self._key(key))

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        await self._unlink_prefix(prefix)

    async def clear(self) -> None:
        self._check_writable()
        await self._unlink_prefix("")

    async def _unlink_prefix(self, prefix: str) -> None:
        await self._ensure_open()
        batch: list[str] = []
        async for key in self.list_prefix(prefix):
            batch.append(self._key(key))
            if len(batch) >= _SCAN_BATCH:
                with reaching(self.url):
                    await self._client().unlink(*batch)
                batch = []
        if batch:
            with reaching(self.url):
                await self._client().unlink(*batch)

    # -- listing ------------------------------------------------------------------------------

    async def list(self) -> AsyncIterator[str]:
        async for key in self.list_prefix(""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        await self._ensure_open()
        pattern = glob_escape(self._key(prefix)) + "*"
        start = len(self.prefix.encode())
        seen: set[bytes] = set()
        with reaching(self.url):
            async for name in self._client().scan_iter(match=pattern, count=_SCAN_BATCH):
                if name not in seen:  # SCAN may return a key more than once
                    seen.add(name)
                    yield name[start:].decode()

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        if prefix:
            prefix += "/"
        children: set[str] = set()
        async for key in self.list_prefix(prefix):
            child = key[len(prefix) :].split("/", 1)[0]
            if child not in children:
                children.add(child)
                yield child

    async def aclose(self) -> None:
        """Close the store; the client of the running loop is closed before this returns."""
        await self._clients.aclose()
        super().close()
