"""TinyLFU admission: Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
Policy", ACM Transactions on Storage 13(4), 2017."""

from __future__ import annotations

from collections.abc import Hashable

from zarr_cachestore import store_key

from zarr_cachestore_policies.sketch import CountMinSketch

__all__ = ["TinyLFU"]


class TinyLFU:
    """Admit a new entry only if it was requested more often than the entry it would evict.

    Every request is counted by store key in a count-min sketch that halves its counters every
    ``sample_size`` requests (10 x ``width`` by default), so frequencies are recent ones. When
    the store needs no room, or the eviction policy cannot name its victim, the entry is admitted.
    A byte range is weighed by the requests of the value it belongs to.
    """

    def __init__(self, width: int = 4096, *, sample_size: int | None = None) -> None:
        self.sketch = CountMinSketch(width, sample_size=sample_size)

    def on_access(self, key: Hashable) -> None:
        self.sketch.increment(store_key(key))

    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        if victim is None:
            return True
        return self.sketch.estimate(store_key(key)) > self.sketch.estimate(store_key(victim))

    def clear(self) -> None:
        """Forget every count (a copy of a cache starts with none)."""
        self.sketch.clear()
