"""W-TinyLFU: Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
Policy", ACM Transactions on Storage 13(4), 2017."""

from __future__ import annotations

from collections.abc import Hashable

from zarr_cachestore_policies._common import Budget, Budgeted, SizedQueue
from zarr_cachestore_policies.sketch import CountMinSketch

__all__ = ["SizedWTinyLFU", "WTinyLFU"]


class WTinyLFU(Budgeted):
    """A 1% LRU window in front of a segmented LRU (20% probation, 80% protected) main space.

    New entries enter the window. When the window is over its share, its LRU entry is the
    candidate: it moves to probation if the main space has room, else it is admitted only if the
    count-min sketch (every insert and hit counted, halved periodically) rates it above the main
    victim (probation's LRU entry, else protected's), and the loser leaves. A probation hit
    promotes to protected, whose overflow is demoted back to probation. No doorkeeper.

    Shares are of ``capacity`` bytes, learned by default (see :class:`Budget`). As published
    (libCacheSim does not insert them), an entry larger than the window is not kept: it is the
    next victim. Until a learned capacity is known (the first eviction) no entry is large.
    """

    window_share = 0.01
    protected_share = 0.8

    def __init__(self, capacity: int | None = None, *, sketch_width: int = 4096) -> None:
        self._budget = Budget(capacity)
        self._window, self._probation, self._protected = SizedQueue(), SizedQueue(), SizedQueue()
        self._large = SizedQueue()  # entries the published algorithm does not keep
        self.sketch = CountMinSketch(sketch_width)

    @property
    def window_capacity(self) -> int:
        return int(self._budget.capacity * self.window_share)

    def on_insert(self, key: Hashable, size: int) -> None:
        self._budget.add(size)
        self._count(key, size)
        large = self._budget.known and size > self.window_capacity
        (self._large if large else self._window).push(key, size)

    def on_hit(self, key: Hashable) -> None:
        self._count(key, 0)
        if key in self._large:
            return
        if key in self._window:
            self._window.touch(key)
        elif key in self._protected:
            self._protected.touch(key)
        else:
            self._protected.push(key, self._probation.pop(key))
            main = self._budget.capacity - self.window_capacity
            while self._protected.bytes > int(main * self.protected_share):
                demoted = self._protected.oldest()
                self._probation.push(demoted, self._protected.pop(demoted))

    def on_remove(self, key: Hashable) -> None:
        self._budget.sub(self._segment(key).pop(key))

    def evict(self) -> Hashable:
        if not len(self):
            raise LookupError("WTinyLFU: no entry to evict")
        self._budget.full = True
        while True:
            victim, candidate = self._decide()
            if candidate is not None:
                self._probation.push(candidate, self._window.pop(candidate))
            if victim is not None:
                self._budget.sub(self._segment(victim).pop(victim))
                return victim

    def peek(self) -> Hashable | None:
        """The next victim, or ``None`` if window entries must move to main first."""
        return self._decide()[0] if len(self) else None

    def clear(self) -> None:
        self.__init__(self._budget.fixed, sketch_width=self.sketch.width)  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._window) + len(self._probation) + len(self._protected) + len(self._large)

    def _decide(self) -> tuple[Hashable | None, Hashable | None]:
        """The next step of eviction: (victim or None, window entry moving to probation or None)."""
        if self._large:
            return self._large.oldest(), None
        main_victim = self._probation.oldest()
        if main_victim is None:
            main_victim = self._protected.oldest()
        window_cap = self.window_capacity
        if not self._window or self._window.bytes <= window_cap:
            return (self._window.oldest() if main_victim is None else main_victim), None
        candidate = self._window.oldest()
        size = self._window.sizes[candidate]
        main_free = self._budget.capacity - window_cap - self._probation.bytes
        if size <= main_free - self._protected.bytes:
            return None, candidate
        if main_victim is None:
            return candidate, None
        if self.sketch.estimate(candidate) > self.sketch.estimate(main_victim):
            return main_victim, candidate
        return candidate, None

    def _count(self, key: Hashable, size: int) -> None:
        self.sketch.increment(key)

    def _segment(self, key: Hashable) -> SizedQueue:
        for queue in (self._window, self._large):
            if key in queue:
                return queue
        return self._probation if key in self._probation else self._protected


class SizedWTinyLFU(WTinyLFU):
    """W-TinyLFU for large objects: the window holds at least the largest recent entry.

    The published 1% window can never hold a large zarr chunk, so such chunks never reach the
    main space. Here the window's share is at least the size of the largest entry inserted in the
    current or previous sketch period, so every entry passes through the window to the main.
    """

    def __init__(self, capacity: int | None = None, *, sketch_width: int = 4096) -> None:
        super().__init__(capacity, sketch_width=sketch_width)
        self._largest = self._largest_before = 0

    @property
    def window_capacity(self) -> int:
        largest = max(self._largest, self._largest_before)
        return min(max(super().window_capacity, largest), self._budget.capacity)

    def _count(self, key: Hashable, size: int) -> None:
        self._largest = max(self._largest, size)
        if self.sketch.increment(key):
            self._largest_before, self._largest = self._largest, 0
