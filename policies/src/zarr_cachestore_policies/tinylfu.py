"""TinyLFU admission: Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
Policy", ACM Transactions on Storage 13(4), 2017."""

from __future__ import annotations

from collections.abc import Hashable

from zarr_cachestore_policies.sketch import CountMinSketch

__all__ = ["TinyLFU"]


class TinyLFU:
    """Admit a new entry only if it was requested more often than the entry it would evict.

    Every request is counted in a count-min sketch that halves its counters every
    ``sample_size`` requests (10 x ``width`` by default), so frequencies are recent ones. When
    the store needs no room, or the eviction policy cannot name its victim, the entry is admitted.
    """

    def __init__(self, width: int = 4096, *, sample_size: int | None = None) -> None:
        self.sketch = CountMinSketch(width, sample_size=sample_size)

    def on_access(self, key: Hashable) -> None:
        self.sketch.increment(key)

    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        return victim is None or self.sketch.estimate(key) > self.sketch.estimate(victim)
