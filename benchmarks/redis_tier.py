"""A hit in the Redis shared tier against a hit in a MemoryStore and a LocalStore, in one run.

Latency: each way serves the same warm 64 KiB values, round by round in turn so that load on a
shared machine touches all alike; the table reports each way's median time per get and its
ratio to a MemoryStore get. Throughput: 1, 2 and 4 OS processes read the warm values of the
tier (and of a LocalStore) as fast as they can; the table reports gets per second in all and
the ratio to one process.

    python benchmarks/redis_tier.py [--url redis://...] [--keys 64] [--value-bytes 65536]

Without ``--url`` it starts a ``redis-server`` of its own on a free loopback port.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import zarr
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import LocalStore, MemoryStore

from zarr_cachestore import RedisStore, RedisTier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from services import INSTALL_HINT, running_redis

PROTO = default_buffer_prototype()
NS = "bench"
PREFIX = "bench-redis-tier:"


@contextmanager
def redis_url(url: str | None) -> Iterator[str]:
    """``url``, or (``None``) that of a ``redis-server`` started for the run and stopped after."""
    if url is not None:
        yield url
        return
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit(INSTALL_HINT)
    with running_redis(executable) as server:
        yield server.url


def names(keys: int) -> list[str]:
    return [f"c/{i}" for i in range(keys)]


async def fill(url: str, root: Path, keys: int, value_bytes: int) -> dict[str, Any]:
    """Every way, holding the same values."""
    value = bytes(range(256)) * (value_bytes // 256) + bytes(value_bytes % 256)
    memory, local = MemoryStore(), LocalStore(root)
    store = RedisStore(url, prefix=PREFIX + "store:")
    tier = RedisTier(url, max_size=keys * value_bytes * 2, prefix=PREFIX + "tier:")
    await tier.clear()
    for key in names(keys):
        buffer = cpu.Buffer.from_bytes(value)
        await memory.set(key, buffer)
        await local.set(key, buffer)
        await store.set(key, buffer)
        assert await tier.put(NS, key, value, token=await tier.begin(NS, key), deadline=None)
    return {
        "MemoryStore.get": memory,
        "LocalStore.get": local,
        "RedisStore.get": store,
        "RedisTier.get": tier,
    }


def getter(way: Any) -> Callable[[str], Awaitable[Any]]:
    if isinstance(way, RedisTier):
        return lambda key: way.get(NS, key)
    return lambda key: way.get(key, PROTO)


async def latency(ways: dict[str, Any], keys: int, rounds: int) -> dict[str, float]:
    """Median seconds per get of each way, over ``rounds`` interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            get = getter(way)
            start = time.perf_counter()
            for key in names(keys):
                assert await get(key) is not None
            samples[name].append((time.perf_counter() - start) / keys)
    return {name: statistics.median(times) for name, times in samples.items()}


async def _reader(way: str, url: str, root: str, keys: int, budget: int, seconds: float) -> int:
    store: Any = LocalStore(root)
    if way == "RedisTier.get":
        store = RedisTier(url, max_size=budget, prefix=PREFIX + "tier:")
    get = getter(store)
    done, stop = 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        for key in names(keys):
            assert await get(key) is not None
        done += keys
    if isinstance(store, RedisTier):
        await store.aclose()
    return done


def reader(
    way: str, url: str, root: str, keys: int, budget: int, seconds: float, results: Any
) -> None:
    results.put(asyncio.run(_reader(way, url, root, keys, budget, seconds)))


def throughput(
    way: str, url: str, root: Path, keys: int, budget: int, processes: int, seconds: float
) -> float:
    """Gets per second of ``processes`` readers of ``way`` together."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=reader, args=(way, url, str(root), keys, budget, seconds, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    total: float = sum(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a Redis server to use (default: start one)")
    parser.add_argument("--keys", type=int, default=64)
    parser.add_argument("--value-bytes", type=int, default=64 * 1024)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput run")
    args = parser.parse_args()

    with redis_url(args.url) as url, tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        ways = asyncio.run(fill(url, root, args.keys, args.value_bytes))
        budget = ways["RedisTier.get"].max_size
        medians = asyncio.run(latency(ways, args.keys, args.rounds))
        print(
            f"zarr {zarr.__version__}, redis-server {redis_version(url)}: {args.keys} values of "
            f"{args.value_bytes:,} bytes, median of {args.rounds} rounds (budget {budget:,} B)"
        )
        print("\n| get of a warm value | µs per get | ratio to MemoryStore |")
        print("|---|---:|---:|")
        base = medians["MemoryStore.get"]
        for name, seconds in medians.items():
            print(f"| {name} | {seconds * 1e6:,.1f} | {seconds / base:,.1f}x |")

        print("\n| processes | RedisTier gets/s | ratio to 1 | LocalStore gets/s | ratio to 1 |")
        print("|---:|---:|---:|---:|---:|")
        first: dict[str, float] = {}
        for processes in (1, 2, 4):
            row = []
            for way in ("RedisTier.get", "LocalStore.get"):
                rate = throughput(way, url, root, args.keys, budget, processes, args.seconds)
                first.setdefault(way, rate)
                row += [f"{rate:,.0f}", f"{rate / first[way]:.2f}x"]
            print(f"| {processes} | " + " | ".join(row) + " |")
        asyncio.run(ways["RedisTier.get"].clear())


def redis_version(url: str) -> str:
    with redis.Redis.from_url(url) as client:
        return str(client.info("server")["redis_version"])


if __name__ == "__main__":
    main()
