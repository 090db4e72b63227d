"""Hit ratios on a trace of large objects (each 10-25% of the cache), like big zarr chunks.

The published S3-FIFO and W-TinyLFU filter new objects through a small queue or window of 10%
or 1% of the cache, which such objects never fit; the size-aware variants keep them. Replayed
by the core's simulator, which tells each policy the cache's capacity as ``CacheStore`` does.
Run: ``python scripts/large_objects.py``.
"""

from __future__ import annotations

import random

from zarr_cachestore import LRU
from zarr_cachestore.simulate import simulate

from zarr_cachestore_policies import S3FIFO, SizedS3FIFO, SizedWTinyLFU, WTinyLFU

CAPACITY = 1_000_000
POLICIES = {
    "lru": LRU,
    "s3fifo": S3FIFO,
    "s3fifo-sized": SizedS3FIFO,
    "wtinylfu": WTinyLFU,
    "wtinylfu-sized": SizedWTinyLFU,
}


def large_object_trace(seed: int = 0, n: int = 20_000) -> list[tuple[int, int]]:
    """Zipf(0.9)-popular reads of 40 objects of 10-25% of ``CAPACITY`` each."""
    rng = random.Random(seed)
    sizes = {k: rng.randint(CAPACITY // 10, CAPACITY // 4) for k in range(40)}
    weights = [1 / (k + 1) ** 0.9 for k in range(40)]
    return [(k, sizes[k]) for k in rng.choices(range(40), weights=weights, k=n)]


def hit_ratios(trace: list[tuple[int, int]]) -> dict[str, float]:
    results = simulate(trace, list(POLICIES.values()), [CAPACITY])
    return {name: 1 - result.miss_ratio for name, result in zip(POLICIES, results, strict=True)}


if __name__ == "__main__":
    for name, ratio in hit_ratios(large_object_trace()).items():
        print(f"{name:<16} hit ratio {ratio:.3f}")
