"""What each OS process of the multi-process tier tests runs, and how values describe themselves
so that any process can tell a whole value from a torn or mixed one."""

from __future__ import annotations

import asyncio
import random
import time
from multiprocessing.queues import Queue
from typing import Any

from zarr.abc.store import RangeByteRequest

from zarr_cachestore.redis_tier import RedisTier

NAMESPACE = "shared"


def make_value(key: str, writer: int, serial: int, length: int) -> bytes:
    """``length`` bytes: a header naming key, writer and serial, then one repeated byte."""
    header = f"{key}|{writer}|{serial}|{length}|".encode()
    fill = bytes([(writer * 31 + serial) % 251]) * max(0, length - len(header))
    return header + fill


def is_whole(key: str, value: bytes) -> bool:
    """Whether ``value`` is exactly a value :func:`make_value` made for ``key``."""
    try:
        named, writer, serial, length, _ = value.split(b"|", 4)
        expected = make_value(key, int(writer), int(serial), int(length))
    except ValueError:
        return False
    return named.decode() == key and value == expected


async def _hammer(
    url: str, prefix: str, max_size: int, writer: int, seconds: float
) -> tuple[int, int]:
    tier = RedisTier(url, max_size=max_size, policy="lru", prefix=prefix)
    rng = random.Random(writer)
    keys = [f"c/{i}" for i in range(40)]
    operations = bad = 0
    stop = time.monotonic() + seconds
    try:
        while time.monotonic() < stop:
            key = rng.choice(keys)
            roll = rng.random()
            if roll < 0.45:
                token = await tier.begin(NAMESPACE, key)
                value = make_value(key, writer, operations, rng.randint(64, max_size // 4))
                await tier.put(NAMESPACE, key, value, token=token, deadline=None)
            elif roll < 0.9:
                held = await tier.get(NAMESPACE, key)
                bad += held is not None and not is_whole(key, held)
            elif roll < 0.95:
                head = await tier.get(NAMESPACE, key, RangeByteRequest(0, len(key) + 1))
                bad += head is not None and head != f"{key}|".encode()
            else:
                await tier.invalidate(NAMESPACE, key)
            operations += 1
    finally:
        await tier.aclose()
    return operations, bad


def hammer(
    url: str, prefix: str, max_size: int, writer: int, seconds: float, results: Queue[Any]
) -> None:
    """Put, get, read ranges of and invalidate random keys for ``seconds``; report how many
    operations ran and how many answers were not whole values."""
    results.put(asyncio.run(_hammer(url, prefix, max_size, writer, seconds)))


async def _serve(url: str, data: str, commands: Queue[Any], replies: Queue[Any]) -> None:
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import LocalStore

    from zarr_cachestore import CacheStore, RedisStore

    proto = default_buffer_prototype()
    store = CacheStore(
        LocalStore(data),
        cache_store=RedisStore(url, prefix="watched:"),
        namespace=NAMESPACE,
        memory_size=1 << 20,
        shared_poll=60.0,
    )

    async def read(key: str) -> bytes | None:
        value = await store.get(key, proto)
        return None if value is None else value.to_bytes()

    try:
        while (command := commands.get(timeout=60)) is not None:
            match command:
                case ("read", key):
                    replies.put(await read(key))
                case ("write", key, value):
                    await store.set(key, proto.buffer.from_bytes(value))
                    replies.put(None)
                case ("await", key, value, seconds):
                    began = time.monotonic()
                    while (seen := await read(key)) != value and time.monotonic() - began < seconds:
                        await asyncio.sleep(0.001)
                    replies.put(time.monotonic() - began if seen == value else None)
    finally:
        store.close()
        await store._engine.shared.aclose()  # type: ignore[union-attr]


def cache_worker(url: str, data: str, commands: Queue[Any], replies: Queue[Any]) -> None:
    """A CacheStore over the folder ``data``, with a memory tier in front of the Redis tier at
    ``url`` that it polls only once a minute, running commands until ``None``:
    ``("read", key)`` replies the value; ``("write", key, value)`` replies once written;
    ``("await", key, value, seconds)`` reads ``key`` until it is ``value`` and replies the
    seconds that took, or ``None`` if ``seconds`` passed first."""
    asyncio.run(_serve(url, data, commands, replies))
