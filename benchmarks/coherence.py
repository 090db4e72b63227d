"""How soon a write through one process's CacheStore reaches another process's memory tier over
the Redis tier: with pub/sub wake-ups, and with polling only, side by side in one run.

Process A (this one) writes a key ``--writes`` times through its CacheStore, at random
intervals, noting when each write returns. Two reader processes read the key in a loop (every
``--read-interval`` seconds) through CacheStores with a memory tier, both with ``shared_poll``
at its default; one is woken through pub/sub, the other has its watch stopped and polls only.
Each notes when a read first returns each new value. The table reports, per reader, the median,
99th percentile and worst of (seen - returned), and the ratio of the medians. The clock is the
system-wide monotonic clock, the same in every process of the host.

    python -m benchmarks.coherence [--url redis://...] [--writes 50] [--read-interval 0.001]

Without ``--url`` it starts a ``redis-server`` of its own on a free loopback port.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import zarr
from zarr.core.buffer import default_buffer_prototype
from zarr.storage import LocalStore

from benchmarks.redis_tier import redis_url, redis_version
from zarr_cachestore import CacheStore, RedisStore

PROTO = default_buffer_prototype()
KEY, LAST = "k", b"done"
WAYS = ("pub/sub", "polling only")


def cache(url: str, data: str) -> CacheStore:
    return CacheStore(
        LocalStore(data),
        cache_store=RedisStore(url, prefix="bench-coherence:"),
        namespace="coherence",
        memory_size=1 << 20,
    )


async def _read(way: str, url: str, data: str, interval: float, seen: Any) -> None:
    store = cache(url, data)
    if way == "polling only":
        store._engine.shared.stop_watching()  # type: ignore[union-attr]
    last = None
    while last != LAST:
        got = await store.get(KEY, PROTO)
        value = None if got is None else got.to_bytes()
        if value != last:
            seen.put((way, value, time.monotonic()))
            last = value
        await asyncio.sleep(interval)
    store.close()
    await store._engine.shared.aclose()  # type: ignore[union-attr]


def reader(way: str, url: str, data: str, interval: float, seen: Any) -> None:
    """Read ``KEY`` in a loop; report each new value and when it was first read."""
    asyncio.run(_read(way, url, data, interval, seen))


async def measure(
    url: str, data: str, writes: int, interval: float
) -> tuple[float, list[dict[str, float]]]:
    """Start the readers, write ``writes`` values, and give for each the seconds until each
    reader first read it; and the poll interval of the readers."""
    writer = cache(url, data)
    await writer.set(KEY, PROTO.buffer.from_bytes(b"v0"))
    context = multiprocessing.get_context("spawn")
    seen = context.Queue()
    readers = [
        context.Process(target=reader, args=(way, url, data, interval, seen)) for way in WAYS
    ]
    for process in readers:
        process.start()
    assert {seen.get(timeout=60)[0] for _ in WAYS} == set(WAYS)  # each read the first value
    await asyncio.sleep(1.0)  # the watch has subscribed
    rng = random.Random(0)
    delays: list[dict[str, float]] = []
    for serial in range(1, writes + 1):
        value = f"v{serial}".encode()
        await writer.set(KEY, PROTO.buffer.from_bytes(value))
        returned = time.monotonic()
        delay: dict[str, float] = {}
        while len(delay) < len(WAYS):
            way, got, at = seen.get(timeout=30)
            if got == value:
                delay[way] = at - returned
        delays.append(delay)
        await asyncio.sleep(rng.uniform(0.05, 2 * writer._config.shared_poll))  # any phase
    await writer.set(KEY, PROTO.buffer.from_bytes(LAST))
    for process in readers:
        process.join(30)
    writer.close()
    await writer._engine.shared.aclose()  # type: ignore[union-attr]
    return writer._config.shared_poll, delays


def percentile(samples: list[float], percent: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a Redis server to use (default: start one)")
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--read-interval", type=float, default=0.001, help="seconds")
    args = parser.parse_args()

    with redis_url(args.url) as url, tempfile.TemporaryDirectory() as directory:
        data = str(Path(directory) / "data")
        poll, delays = asyncio.run(measure(url, data, args.writes, args.read_interval))
        print(
            f"zarr {zarr.__version__}, redis-server {redis_version(url)}: {args.writes} writes; "
            f"readers read every {args.read_interval * 1e3:g} ms, shared_poll={poll} s"
        )
        print("\n| reader | median | p99 | worst |")
        print("|---|---:|---:|---:|")
        medians = {}
        for way in WAYS:
            samples = [delay[way] for delay in delays]
            medians[way] = statistics.median(samples)
            print(
                f"| {way} | {medians[way] * 1e3:,.1f} ms | {percentile(samples, 99) * 1e3:,.1f} ms"
                f" | {max(samples) * 1e3:,.1f} ms |"
            )
        ratio = medians["pub/sub"] / medians["polling only"]
        print(f"\nmedian ratio, pub/sub to polling only: {ratio:.3f}x")


if __name__ == "__main__":
    main()
