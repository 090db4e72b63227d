"""The size-aware variants keep large objects that the published algorithms do not."""

from __future__ import annotations

import random

from zarr_cachestore_policies import S3FIFO, SizedS3FIFO, SizedWTinyLFU, WTinyLFU

CAPACITY = 1_000_000


def hit_ratio(policy: S3FIFO | WTinyLFU, trace: list[tuple[int, int]]) -> float:
    held: dict[int, int] = {}
    used = hits = 0
    for key, size in trace:
        if key in held:
            policy.on_hit(key)
            hits += 1
            continue
        while used + size > CAPACITY:
            used -= held.pop(policy.evict())  # type: ignore[call-overload]
        held[key], used = size, used + size
        policy.on_insert(key, size)
    return hits / len(trace)


def test_large_objects() -> None:
    """40 Zipf-popular objects of 10-25% of the cache each, read 5000 times."""
    rng = random.Random(0)
    sizes = {k: rng.randint(CAPACITY // 10, CAPACITY // 4) for k in range(40)}
    weights = [1 / (k + 1) ** 0.9 for k in range(40)]
    trace = [(k, sizes[k]) for k in rng.choices(range(40), weights=weights, k=5000)]
    assert hit_ratio(SizedS3FIFO(), trace) > hit_ratio(S3FIFO(), trace) + 0.1
    assert hit_ratio(SizedWTinyLFU(), trace) > hit_ratio(WTinyLFU(), trace) + 0.1
