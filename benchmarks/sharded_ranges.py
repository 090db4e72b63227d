"""Overlapping partial reads of a sharded array: source requests and bytes, four ways.

The same seeded workload runs against the same source data

* with no cache (the counting source directly),
* through zarr's experimental ``CacheStore`` (``cache_store=MemoryStore()``),
* through ``zarr_cachestore.CacheStore``, and with whole-shard promotion,

both caches with the same ``max_size``, and prints one table. Counts are exact and do not depend
on the machine; no time is measured.

    python benchmarks/sharded_ranges.py [--max-size BYTES] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import zarr
from zarr.abc.store import Store
from zarr.storage import MemoryStore

from zarr_cachestore import CacheStore, WholeValuePromotion
from zarr_cachestore.latency import LatencyStore

SHAPE = (512, 512)
INNER = (16, 16)
SHARD = (128, 128)  # 8 x 8 inner chunks per shard, 4 x 4 shards
WINDOW = 96  # a window spans parts of up to 2 x 2 shards
STEP = WINDOW // 2  # consecutive windows overlap by half

Window = tuple[slice, slice]


def windows(seed: int) -> Iterator[Window]:
    """A raster sweep of half-overlapping windows, then a seeded revisit of half of them."""
    origins = [
        (row, col)
        for row in range(0, SHAPE[0] - WINDOW + 1, STEP)
        for col in range(0, SHAPE[1] - WINDOW + 1, STEP)
    ]
    rng = np.random.default_rng(seed)
    revisits = rng.choice(len(origins), size=len(origins) // 2, replace=False)
    for row, col in origins + [origins[i] for i in revisits]:
        yield slice(row, row + WINDOW), slice(col, col + WINDOW)


def write_source(seed: int) -> tuple[MemoryStore, npt.NDArray[np.int32]]:
    data = np.random.default_rng(seed).integers(0, 1 << 16, size=SHAPE, dtype=np.int32)
    store = MemoryStore()
    array = zarr.create_array(store, shape=SHAPE, chunks=INNER, shards=SHARD, dtype="int32")
    array[...] = data
    return store, data


def zarr_cache(source: Store, max_size: int) -> Store:
    from zarr.experimental.cache_store import CacheStore as ZarrCacheStore

    return ZarrCacheStore(source, cache_store=MemoryStore(), max_size=max_size)


def our_cache(source: Store, max_size: int) -> Store:
    return CacheStore(source, max_size=max_size)


def our_cache_promoting(source: Store, max_size: int) -> Store:
    return CacheStore(source, max_size=max_size, promotion=WholeValuePromotion(0.25))


def no_cache(source: Store, max_size: int) -> Store:
    return source


@dataclass
class Result:
    way: str
    requests: int
    bytes_read: int
    hit_rate: float | None


def run(
    way: str,
    wrap: Callable[[Store, int], Store],
    base: MemoryStore,
    data: npt.NDArray[np.int32],
    max_size: int,
    seed: int,
) -> Result:
    source = LatencyStore(base)
    store = wrap(source, max_size)
    array = zarr.open_array(store, mode="r")
    source.reset_counts()
    for window in windows(seed):
        if not np.array_equal(array[window], data[window]):
            raise AssertionError(f"{way}: wrong data in window {window}")
    counts = source.reset_counts()
    stats: dict[str, Any] = store.cache_stats() if hasattr(store, "cache_stats") else {}
    return Result(way, counts.requests, counts.bytes_read, stats.get("hit_rate"))


def table(results: list[Result]) -> str:
    lines = [
        "| way | source requests | bytes fetched | hit rate |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in results:
        rate = "n/a" if r.hit_rate is None else f"{r.hit_rate:.1%}"
        lines.append(f"| {r.way} | {r.requests:,} | {r.bytes_read:,} | {rate} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-size", type=int, default=256 * 1024, help="cache budget, bytes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    base, data = write_source(args.seed)
    ways: list[tuple[str, Callable[[Store, int], Store]]] = [
        ("no cache", no_cache),
        ("zarr.experimental CacheStore", zarr_cache),
        ("zarr_cachestore CacheStore", our_cache),
        ("zarr_cachestore, whole-shard promotion at 25%", our_cache_promoting),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's experimental API warns on use
        results = [run(name, wrap, base, data, args.max_size, args.seed) for name, wrap in ways]

    n_windows = sum(1 for _ in windows(args.seed))
    print(
        f"zarr {zarr.__version__}, Python {sys.version_info.major}.{sys.version_info.minor}: "
        f"array {SHAPE[0]}x{SHAPE[1]} int32 ({data.nbytes:,} bytes), inner chunks "
        f"{INNER[0]}x{INNER[1]}, shards {SHARD[0]}x{SHARD[1]}; {n_windows} windows of "
        f"{WINDOW}x{WINDOW} (step {STEP}), max_size {args.max_size:,} bytes, seed {args.seed}"
    )
    print()
    print(table(results))


if __name__ == "__main__":
    main()
