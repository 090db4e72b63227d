"""Prefetching on the demo's simulated object store: wall time and source bytes, side by side.

A time series of 1 MiB chunks sits behind a ``LatencyStore`` with the demo's settings (20 ms
per request, one 200 MiB/s link). Two readers go through ``zarr.open_array`` over a
``CacheStore`` with an equal budget (a third of the array), once without prefetching and once
with each prefetcher, interleaved round by round; the table gives medians and ratios:

- a **sequential scan**: consecutive windows of two chunks, each window processed for a few
  milliseconds before the next is read (as a reader computing on a series does);
- **random access**: windows at random places.

fsspec's read-ahead and background block caches work inside one file; a zarr array is one
object per chunk, so they have nothing to read ahead of here and are not in the table.

    python benchmarks/prefetch.py [--chunks 48] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync
from zarr.storage import MemoryStore

from zarr_cachestore import CacheStore, Sequential
from zarr_cachestore.latency import LatencyStore

MIB = 1 << 20
ROWS = MIB // 8  # float64 rows per 1 MiB chunk
WINDOW = 2 * ROWS
WORK = 0.004  # seconds a reader spends on each window


def array_store(chunks: int) -> MemoryStore:
    store = MemoryStore()
    array = zarr.create_array(
        store, shape=(chunks * ROWS,), chunks=(ROWS,), dtype="f8", compressors=None
    )
    array[:] = np.arange(chunks * ROWS, dtype="f8")
    return store


def sequential(chunks: int, seed: int) -> list[int]:
    return [start * ROWS for start in range(0, chunks - 1, 2)]


def scattered(chunks: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(0, chunks - 1) * ROWS for _ in range(chunks // 2)]


PREFETCHERS: dict[str, tuple[Callable[[], Any], int]] = {  # label: (policy, fetches at once)
    "none": (lambda: "none", 4),
    "sequential": (lambda: "sequential", 4),
    "Sequential(n=8), limit 8": (lambda: Sequential(n=8), 8),
    "neighbors": (lambda: "neighbors", 4),
}


def run(store: MemoryStore, starts: Sequence[int], prefetch: str, budget: int) -> dict[str, float]:
    source = LatencyStore(store, latency=0.020, bandwidth=200 * MIB)
    policy, limit = PREFETCHERS[prefetch]
    cache = CacheStore(source, max_size=budget, prefetch=policy(), prefetch_limit=limit)
    array: zarr.Array[Any] = zarr.open_array(cache, mode="r")
    began = time.perf_counter()
    for start in starts:
        window = np.asarray(array[start : start + WINDOW])
        assert window[0] == start, "a window came back wrong"
        time.sleep(WORK)
    wall = time.perf_counter() - began
    sync(cache.settle())  # prefetches still under way finish before the next run
    stats = cache.cache_stats()
    return {
        "wall": wall,
        "bytes": source.counts.bytes_read,
        "wasted": stats["prefetch_wasted_bytes"],
    }


def table(chunks: int, rounds: int) -> str:
    store = array_store(chunks)
    budget = chunks * MIB // 3
    workloads: dict[str, Callable[[int, int], list[int]]] = {
        "sequential scan": sequential,
        "random access": scattered,
    }
    lines = [
        f"{chunks} chunks of 1 MiB, 20 ms a request, budget {budget // MIB} MiB, "
        f"median of {rounds} rounds",
        "",
        "| workload | prefetch | wall s | vs none | source MiB | vs none | wasted MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, make in workloads.items():
        results: dict[str, list[dict[str, float]]] = {}
        for round_ in range(rounds):
            starts = make(chunks, round_)
            for prefetch in PREFETCHERS:
                results.setdefault(prefetch, []).append(run(store, starts, prefetch, budget))
        base = {
            key: statistics.median(r[key] for r in results["none"]) for key in ("wall", "bytes")
        }
        for prefetch, runs in results.items():
            wall = statistics.median(r["wall"] for r in runs)
            moved = statistics.median(r["bytes"] for r in runs)
            wasted = statistics.median(r["wasted"] for r in runs)
            lines.append(
                f"| {name} | {prefetch} | {wall:.2f} | {wall / base['wall']:.2f}x | "
                f"{moved / MIB:.0f} | {moved / base['bytes']:.2f}x | {wasted / MIB:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=48, help="chunks of 1 MiB in the array")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    print(table(args.chunks, args.rounds))


if __name__ == "__main__":
    main()
