"""What the disk tier tests share: measuring its directory, the value every key stands for, and
the work other OS processes do on a tier (importable by name, as ``spawn`` needs)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import sqlite3
from pathlib import Path

from zarr_cachestore.disk_files import TEMP_SUFFIX
from zarr_cachestore.disk_tier import DiskTier


def directory_bytes(path: Path) -> int:
    """The bytes of every value file (temporary ones too) under the tier at ``path``."""
    total = 0
    for root, _, names in os.walk(path / "values"):
        for name in names:
            with contextlib.suppress(FileNotFoundError):  # removed while we looked
                total += os.stat(os.path.join(root, name)).st_size
    return total


def temp_files(path: Path) -> list[str]:
    walk = os.walk(path / "values")
    return [name for _, _, names in walk for name in names if name.endswith(TEMP_SUFFIX)]


def listed(index: Path | sqlite3.Connection) -> dict[tuple[str, str], str]:
    """What the index of the tier at a path lists: (namespace, key) -> the value file's path
    under ``values/``. Read straight from the index, so that nothing counts as a hit."""
    if isinstance(index, Path):
        with contextlib.closing(sqlite3.connect(index / "index.sqlite3")) as conn:
            return listed(conn)
    rows = index.execute("SELECT namespace, key, file FROM entries").fetchall()
    return {(namespace, key): f"{file[:2]}/{file}" for namespace, key, file in rows}


def value_of(key: str, size: int) -> bytes:
    """The value ``key`` stands for: ``size`` bytes that differ from every other key's."""
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


async def _put(tier: DiskTier, namespace: str, key: str, value: bytes) -> bool:
    token = await tier.begin(namespace, key)
    return await tier.put(namespace, key, value, token=token, deadline=None)


def put_values(path: Path, max_size: int, namespace: str, keys: list[str], size: int) -> None:
    """Open the tier, put ``value_of`` each key, close."""

    async def run() -> None:
        async with DiskTier(path, max_size) as tier:
            for key in keys:
                assert await _put(tier, namespace, key, value_of(key, size))

    asyncio.run(run())


def put_stream(path: Path, max_size: int, prefix: str, count: int, sizes: list[int]) -> None:
    """Put ``count`` values of keys ``prefix0, prefix1, ...``, cycling through ``sizes``."""

    async def run() -> None:
        async with DiskTier(path, max_size) as tier:
            for i in range(count):
                key = f"{prefix}{i}"
                await _put(tier, "ns", key, value_of(key, sizes[i % len(sizes)]))

    asyncio.run(run())


def expect_values(path: Path, max_size: int, namespace: str, keys: list[str], size: int) -> None:
    """Open the tier and find ``value_of`` each key in it."""

    async def run() -> None:
        async with DiskTier(path, max_size) as tier:
            for key in keys:
                assert await tier.get(namespace, key) == value_of(key, size), key

    asyncio.run(run())


def invalidate(path: Path, max_size: int, namespace: str, keys: list[str]) -> None:
    async def run() -> None:
        async with DiskTier(path, max_size) as tier:
            for key in keys:
                await tier.invalidate(namespace, key)

    asyncio.run(run())


def die_while_writing(path: Path, max_size: int, key: str, size: int) -> None:
    """Reserve room for a value, write half of it to its temp file, and be killed (SIGKILL):
    what a process killed in the middle of a put leaves behind."""
    tier = DiskTier(path, max_size)
    file = tier._files.new_token()
    assert tier._index.reserve("ns", key, size, tier._index.token(), file, 0.0)
    temp = tier._files.path(file).with_name(file + TEMP_SUFFIX)
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(value_of(key, size)[: size // 2])
    os.kill(os.getpid(), signal.SIGKILL)
