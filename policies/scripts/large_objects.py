"""Hit ratios on a trace of large objects (each 10-25% of the cache), like big zarr chunks.

The published S3-FIFO and W-TinyLFU filter new objects through a small queue or window of 10%
or 1% of the cache, which such objects never fit; the size-aware variants keep them.
Run: ``python scripts/large_objects.py``.
"""

from __future__ import annotations

import random
from collections.abc import Hashable

from zarr_cachestore import LRU, EvictionPolicy

from zarr_cachestore_policies import S3FIFO, SizedS3FIFO, SizedWTinyLFU, WTinyLFU

CAPACITY = 1_000_000


def hit_ratio(policy: EvictionPolicy, trace: list[tuple[int, int]], capacity: int) -> float:
    """Replay ``trace`` the way the store's ledger does (every miss inserts)."""
    held: dict[Hashable, int] = {}
    used = hits = 0
    for key, size in trace:
        if key in held:
            policy.on_hit(key)
            hits += 1
            continue
        while used + size > capacity:
            used -= held.pop(policy.evict())
        held[key] = size
        used += size
        policy.on_insert(key, size)
    return hits / len(trace)


def large_object_trace(seed: int = 0, n: int = 20_000) -> list[tuple[int, int]]:
    """Zipf(0.9)-popular reads of 40 objects of 10-25% of ``CAPACITY`` each."""
    rng = random.Random(seed)
    sizes = {k: rng.randint(CAPACITY // 10, CAPACITY // 4) for k in range(40)}
    weights = [1 / (k + 1) ** 0.9 for k in range(40)]
    return [(k, sizes[k]) for k in rng.choices(range(40), weights=weights, k=n)]


def results() -> dict[str, float]:
    trace = large_object_trace()
    policies: dict[str, EvictionPolicy] = {
        "lru": LRU(),
        "s3fifo": S3FIFO(),
        "s3fifo-sized": SizedS3FIFO(),
        "wtinylfu": WTinyLFU(),
        "wtinylfu-sized": SizedWTinyLFU(),
        "s3fifo(capacity)": S3FIFO(CAPACITY),
        "s3fifo-sized(capacity)": SizedS3FIFO(CAPACITY),
        "wtinylfu(capacity)": WTinyLFU(CAPACITY),
        "wtinylfu-sized(capacity)": SizedWTinyLFU(CAPACITY),
    }
    return {name: hit_ratio(policy, trace, CAPACITY) for name, policy in policies.items()}


if __name__ == "__main__":
    for name, ratio in results().items():
        print(f"{name:<25} hit ratio {ratio:.3f}")
