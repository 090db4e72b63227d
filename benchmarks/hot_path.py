"""Cache hits per second: zarr's experimental CacheStore against zarr_cachestore, in one run.

Every way serves the same requests from a warm cache (whole values; then, with fresh caches,
one byte range per value, as a sharded read repeats them), interleaved round by round so that
load on a shared machine touches all ways alike. The table reports the median of the rounds and
each way's speed relative to zarr's.

    python benchmarks/hot_path.py [--keys 256] [--value-bytes 65536] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import warnings
from collections.abc import Callable

import zarr
from zarr.abc.store import RangeByteRequest, Store
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import MemoryStore

from zarr_cachestore import CacheStore

PROTO = default_buffer_prototype()


def zarr_cache(source: Store) -> Store:
    from zarr.experimental.cache_store import CacheStore as ZarrCacheStore

    return ZarrCacheStore(source, cache_store=MemoryStore(), max_size=1 << 40)


WAYS: dict[str, Callable[[Store], Store]] = {
    "zarr.experimental CacheStore": zarr_cache,
    "zarr_cachestore, cache_store=MemoryStore()": lambda source: CacheStore(
        source, cache_store=MemoryStore(), max_size=1 << 40
    ),
    "zarr_cachestore, memory tier": lambda source: CacheStore(source, max_size=1 << 40),
}


async def hits_per_second(store: Store, keys: list[str], ranged: bool, repeat: int) -> float:
    request = RangeByteRequest(100, 4196) if ranged else None
    start = time.perf_counter()
    for _ in range(repeat):
        for key in keys:
            await store.get(key, PROTO, request)
    return repeat * len(keys) / (time.perf_counter() - start)


async def main(keys: int, value_bytes: int, rounds: int, repeat: int) -> None:
    source = MemoryStore()
    names = [f"c/{i}" for i in range(keys)]
    for name in names:
        await source.set(name, cpu.Buffer.from_bytes(bytes(value_bytes)))
    print(f"zarr {zarr.__version__}: {keys} keys of {value_bytes:,} bytes, {rounds} rounds")
    print("\n| way | whole-value hits/s | ratio | range hits/s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    speeds: dict[str, dict[bool, list[float]]] = {way: {False: [], True: []} for way in WAYS}
    for ranged in (False, True):
        stores = {way: build(source) for way, build in WAYS.items()}  # fresh caches
        for store in stores.values():  # warm: every key (or range) read once
            await hits_per_second(store, names, ranged, 1)
        for _ in range(rounds):
            for way, store in stores.items():
                speeds[way][ranged].append(await hits_per_second(store, names, ranged, repeat))
    base = {ranged: statistics.median(speeds[next(iter(WAYS))][ranged]) for ranged in (0, 1)}
    for way in WAYS:
        whole, ranged = (statistics.median(speeds[way][r]) for r in (False, True))
        print(
            f"| {way} | {whole:,.0f} | {whole / base[0]:.2f}x | {ranged:,.0f} | "
            f"{ranged / base[1]:.2f}x |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=256)
    parser.add_argument("--value-bytes", type=int, default=65536)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        asyncio.run(main(args.keys, args.value_bytes, args.rounds, args.repeat))
