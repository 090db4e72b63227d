"""Miss counts of these policies and the core's against libCacheSim's, on synthetic traces.

Needs the ``libcachesim`` Python package. Ours are replayed by the core's simulator; both sides
follow the same protocol: every miss inserts, after evicting until the object fits; an object
larger than the cache is not inserted.
Run: ``python scripts/compare_libcachesim.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import libcachesim as lcs  # type: ignore[import-not-found]
from zarr_cachestore import FIFO, LFU, LRU, EvictionPolicy
from zarr_cachestore.simulate import simulate

from zarr_cachestore_policies import ARC, Clock, Sieve

Trace = list[tuple[int, int]]


def reference_misses(cache_class: Callable[..., Any], trace: Trace, capacity: int) -> int:
    cache = cache_class(cache_size=capacity)
    return sum(not cache.get(lcs.Request(obj_id=k, obj_size=s)) for k, s in trace)


def zipf_trace(rng: random.Random, n: int, objects: int, alpha: float, max_size: int) -> Trace:
    weights = [1 / (i + 1) ** alpha for i in range(objects)]
    sizes = {k: rng.randint(1, max_size) for k in range(1, objects + 1)}
    return [(k, sizes[k]) for k in rng.choices(range(1, objects + 1), weights=weights, k=n)]


PAIRS: list[tuple[str, Callable[[], EvictionPolicy], Callable[..., Any]]] = [
    ("lru", LRU, lcs.LRU),
    ("fifo", FIFO, lcs.FIFO),
    ("lfu", LFU, lcs.LFU),
    ("sieve", Sieve, lcs.Sieve),
    ("clock", Clock, lcs.Clock),
    ("arc", ARC, lcs.ARC),
]


def main() -> None:
    rng = random.Random(1)
    for max_size in (1, 20):
        for capacity in (10, 50, 200):
            trace = zipf_trace(rng, 20_000, 1_000, 0.8, max_size)
            row = []
            for name, make, reference in PAIRS:
                (result,) = simulate(trace, make, [capacity])
                theirs = reference_misses(reference, trace, capacity)
                row.append(
                    f"{name} {result.misses}{'=' if result.misses == theirs else '!='}{theirs}"
                )
            print(f"sizes 1..{max_size:<3} capacity {capacity:<4}", "  ".join(row))


if __name__ == "__main__":
    main()
