"""The disk tier against zarr's LocalStore on the same disk, in one run.

Hit latency (a whole 64 KiB value, and a 4 KiB range of it) of LocalStore.get, of the disk
tier's get (which reads inline, on the event loop's thread), and of the same work moved to a
thread as LocalStore does, one read at a time and 64 at once; put throughput with and without
an fsync per value; and hits and puts of one process against two processes on one directory.
The latency rows are interleaved round by round so that load on a shared machine touches all
alike; each is the median of the rounds.

    python benchmarks/disk_tier.py [--keys 256] [--value-bytes 65536] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import zarr
from zarr.abc.store import RangeByteRequest
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import LocalStore

from zarr_cachestore.disk_tier import DiskTier

PROTO = default_buffer_prototype()
RANGE = RangeByteRequest(100, 100 + 4096)


async def per_op(op: Callable[[str], Awaitable[Any]], keys: list[str]) -> float:
    """Microseconds per call of ``op``, over every key in turn."""
    start = time.perf_counter()
    for key in keys:
        await op(key)
    return (time.perf_counter() - start) / len(keys) * 1e6


async def gathered(op: Callable[[str], Awaitable[Any]], keys: list[str], width: int) -> float:
    """Microseconds per call when ``width`` calls run at once (as zarr reads chunks)."""
    start = time.perf_counter()
    for i in range(0, len(keys), width):
        await asyncio.gather(*(op(key) for key in keys[i : i + width]))
    return (time.perf_counter() - start) / len(keys) * 1e6


def tier_put(tier: DiskTier, key: str, value: bytes) -> bool:
    return tier.put_sync("bench", key, value, tier._index.token(), None)


def worker(path: Path, max_size: int, keys: list[str], value_bytes: int, work: str, go: Any,
           results: Any) -> None:  # fmt: skip
    """In another process: wait for ``go``, then hit or put every key; report the seconds."""
    tier = DiskTier(path, max_size)
    value = bytes(value_bytes)
    go.wait()
    start = time.perf_counter()
    for key in keys:
        if work == "hits":
            assert tier.get_sync("bench", key) is not None
        else:
            tier_put(tier, key, value)
    results.put(time.perf_counter() - start)
    tier.close()


def processes_rate(
    path: Path, max_size: int, key_sets: list[list[str]], value_bytes: int, work: str
) -> float:
    """Operations per second of all processes together, each doing one key set."""
    spawn = multiprocessing.get_context("spawn")
    go, results = spawn.Event(), spawn.Queue()
    procs = [
        spawn.Process(target=worker, args=(path, max_size, keys, value_bytes, work, go, results))
        for keys in key_sets
    ]
    for proc in procs:
        proc.start()
    time.sleep(2.0)  # let every process import and open the tier
    go.set()
    seconds: float = max(results.get(timeout=300) for _ in procs)
    for proc in procs:
        proc.join()
    return sum(map(len, key_sets)) / seconds


async def latencies(root: Path, keys: list[str], value_bytes: int, rounds: int) -> None:
    local = await LocalStore.open(root / "local")
    tier = DiskTier(root / "tier", max_size=4 * len(keys) * value_bytes)
    value = bytes(range(256)) * (value_bytes // 256)
    for key in keys:
        await local.set(key, cpu.Buffer.from_bytes(value))
        assert tier_put(tier, key, value)

    ways: dict[str, Callable[[str], Awaitable[Any]]] = {
        "LocalStore.get, whole": lambda k: local.get(k, PROTO),
        "disk tier get, whole": lambda k: tier.get("bench", k),
        "disk tier get in a thread, whole": lambda k: asyncio.to_thread(tier.get_sync, "bench", k),
        "LocalStore.get, 4 KiB range": lambda k: local.get(k, PROTO, RANGE),
        "disk tier get, 4 KiB range": lambda k: tier.get("bench", k, RANGE),
        "disk tier get in a thread, 4 KiB range": lambda k: asyncio.to_thread(
            tier.get_sync, "bench", k, RANGE
        ),
    }
    serial: dict[str, list[float]] = {name: [] for name in ways}
    wide: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, op in ways.items():
            serial[name].append(await per_op(op, keys))
            wide[name].append(await gathered(op, keys, 64))

    print("\n| hit | µs, one at a time | vs LocalStore | µs each, 64 at once | vs LocalStore |")
    print("|---|---:|---:|---:|---:|")
    for name in ways:
        base = "LocalStore.get, whole" if "whole" in name else "LocalStore.get, 4 KiB range"
        one, many = statistics.median(serial[name]), statistics.median(wide[name])
        ratio_one = one / statistics.median(serial[base])
        ratio_many = many / statistics.median(wide[base])
        print(f"| {name} | {one:.0f} | {ratio_one:.2f}x | {many:.0f} | {ratio_many:.2f}x |")

    puts: dict[str, list[float]] = {"put, no fsync": [], "put, fsync": []}
    for r in range(rounds):
        for name, fsync in (("put, no fsync", False), ("put, fsync", True)):
            tier._files.fsync = fsync
            fresh = [f"put/{r}/{fsync}/{key}" for key in keys]
            start = time.perf_counter()
            for key in fresh:
                tier_put(tier, key, value)
            puts[name].append(len(fresh) / (time.perf_counter() - start))
    tier._files.fsync = False
    print("\n| put of a value | puts/s | vs no fsync |")
    print("|---|---:|---:|")
    base_puts = statistics.median(puts["put, no fsync"])
    for name, rates in puts.items():
        rate = statistics.median(rates)
        print(f"| {name} | {rate:,.0f} | {rate / base_puts:.2f}x |")
    tier.close()


def shared(root: Path, keys: list[str], value_bytes: int) -> None:
    """Hits of held keys, and puts of new ones that evict (the budget holds twice the keys),
    by one process and then split between two."""
    path, max_size = root / "shared", 2 * len(keys) * value_bytes
    tier = DiskTier(path, max_size)
    for key in keys:
        assert tier_put(tier, key, bytes(value_bytes))
    tier.close()
    n = 2 * len(keys)
    plans = {
        "hits": ([keys * 2], [keys, keys]),
        "puts": (
            [[f"one/{i}" for i in range(n)]],
            [[f"two/a{i}" for i in range(n // 2)], [f"two/b{i}" for i in range(n // 2)]],
        ),
    }
    print("\n| processes on one directory | ops/s, all together | vs one process |")
    print("|---|---:|---:|")
    for work, (one_plan, two_plan) in plans.items():
        one = processes_rate(path, max_size, one_plan, value_bytes, work)
        two = processes_rate(path, max_size, two_plan, value_bytes, work)
        print(f"| {work}, 1 process | {one:,.0f} | 1.00x |")
        print(f"| {work}, 2 processes | {two:,.0f} | {two / one:.2f}x |")


async def main(keys: int, value_bytes: int, rounds: int) -> None:
    names = [f"c/{i}" for i in range(keys)]
    with tempfile.TemporaryDirectory(prefix="disk-tier-bench-") as tmp:
        root = Path(tmp)
        print(f"zarr {zarr.__version__}: {keys} keys of {value_bytes:,} bytes, {rounds} rounds")
        await latencies(root, names, value_bytes, rounds)
        shared(root, names, value_bytes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=256)
    parser.add_argument("--value-bytes", type=int, default=65536)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.keys, args.value_bytes, args.rounds))
