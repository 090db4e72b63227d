"""Replay throughput: our simulator's LRU next to cachetools.LRUCache and libCacheSim's LRU.

All three replay the same seeded Zipf trace at the same cache size, in one run, and must
agree on the miss count. Run with ``python benchmarks/replay_throughput.py [--help]``; it
needs the ``sim`` extra (libcachesim, cachetools).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any, Literal

import cachetools
import libcachesim as lcs  # type: ignore[import-untyped]

from zarr_cachestore.simulate import Trace, simulate, write_oracle_general, zipf


def ours(trace: Trace, capacity: int) -> int:
    """Our simulator with the built-in LRU policy (the CacheStore policy object)."""
    (result,) = simulate(trace, "lru", [capacity])
    return result.misses


def with_cachetools(trace: Trace, capacity: int) -> int:
    """cachetools.LRUCache holding each object's size as its value and its weight."""
    cache: cachetools.LRUCache[int, int] = cachetools.LRUCache(capacity, getsizeof=lambda v: v)
    misses = 0
    for keys, sizes in trace.chunks():
        for key, size in zip(keys, sizes, strict=True):
            if key in cache:
                cache[key]  # a read: moves the key to the most recent end
                continue
            misses += 1
            if size <= capacity:
                cache[key] = size
    return misses


def libcachesim_python(trace: Trace, capacity: int) -> int:
    """libCacheSim's LRU, one ``get`` call from Python per request."""
    cache, request = lcs.LRU(capacity), lcs.Request()
    get = cache.get
    hits = 0
    for keys, sizes in trace.chunks():
        for key, size in zip(keys, sizes, strict=True):
            request.obj_id, request.obj_size = key, size
            hits += get(request)
    return len(trace) - hits


def libcachesim_native(
    path: str, n_requests: int, capacity: int, hashpower: int = 24
) -> Callable[[], int]:
    """libCacheSim's LRU replaying an oracleGeneral file entirely in C.

    ``hashpower`` sizes its hash table (2**hashpower slots); 24 is the package default.
    """

    def run() -> int:
        reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
        miss_ratio, _ = lcs.LRU(capacity, hashpower=hashpower).process_trace(reader)
        return round(miss_ratio * n_requests)  # type: ignore[no-any-return]

    return run


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeat`` timed calls, and the call's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--fraction", type=float, default=0.1, help="cache size / working set")
    parser.add_argument("--lognormal", action="store_true", help="lognormal object sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    size_dist: Literal["fixed", "lognormal"] = "lognormal" if args.lognormal else "fixed"
    trace = zipf(args.requests, args.objects, args.alpha, seed=1, size_dist=size_dist)
    capacity = int(args.fraction * trace.working_set().bytes)
    n = len(trace)
    fitted = max(1, math.ceil(math.log2(args.objects)))  # a table just big enough
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.oracleGeneral")
        write_oracle_general(trace, path)
        contenders: dict[str, Callable[[], int]] = {
            "zarr_cachestore.simulate (LRU)": lambda: ours(trace, capacity),
            "cachetools.LRUCache": lambda: with_cachetools(trace, capacity),
            "libcachesim LRU, get() per request": lambda: libcachesim_python(trace, capacity),
            "libcachesim LRU, process_trace (C)": libcachesim_native(path, n, capacity),
            f"  same, hashpower={fitted}": libcachesim_native(path, n, capacity, fitted),
        }
        timings = {name: best_of(args.repeat, fn) for name, fn in contenders.items()}

    print(f"{trace.name}, {n} requests, cache {capacity} bytes ({args.fraction:.0%} of WSS)")
    base = timings["zarr_cachestore.simulate (LRU)"][0]
    print(f"{'replay':38} {'misses':>9} {'requests/s':>12} {'time vs ours':>13}")
    for name, (seconds, misses) in timings.items():
        print(f"{name:38} {misses:>9} {n / seconds:>12,.0f} {seconds / base:>12.2f}x")
    if len({misses for _, misses in timings.values()}) != 1:
        print("WARNING: the replays disagree on the miss count")


if __name__ == "__main__":
    main()
