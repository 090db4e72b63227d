"""Building blocks shared by the policies: the learned byte budget and a sized FIFO/LRU queue."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["Budget", "Budgeted", "SizedQueue"]


class Budget:
    """Bytes tracked, and the capacity a policy divides.

    The store tells a policy its byte budget through ``set_capacity`` (see :class:`Budgeted`).
    Told nothing (``capacity=None``), a policy learns it as the peak of bytes tracked so far: the
    store only evicts when full, so by the first eviction the peak is the budget (exactly, for
    unit sizes; within one entry's size otherwise).
    """

    def __init__(self, capacity: int | None = None) -> None:
        if capacity is not None and capacity < 0:
            raise ValueError(f"capacity must be a non-negative number of bytes, got {capacity!r}")
        self.fixed = capacity
        self.used = 0
        self.peak = 0
        self.full = False  # set at the first eviction: from then on a learned capacity is known

    @property
    def known(self) -> bool:
        return self.fixed is not None or self.full

    @property
    def capacity(self) -> int:
        return self.peak if self.fixed is None else self.fixed

    def add(self, size: int) -> None:
        self.used += size
        self.peak = max(self.peak, self.used)

    def sub(self, size: int) -> None:
        self.used -= size

    def clear(self) -> None:
        self.used = self.peak = 0
        self.full = False


class Budgeted:
    """A policy that divides a byte budget; the store tells it the budget through
    ``set_capacity`` (otherwise it is learned, see :class:`Budget`)."""

    _budget: Budget

    def set_capacity(self, capacity: int) -> None:
        """The store's byte budget (an optional hook of the core's EvictionPolicy)."""
        if capacity < 0:
            raise ValueError(f"capacity must be a non-negative number of bytes, got {capacity!r}")
        self._budget.fixed = capacity


class SizedQueue:
    """Keys with their sizes, oldest first, and the bytes they add up to."""

    def __init__(self) -> None:
        self.sizes: OrderedDict[Hashable, int] = OrderedDict()
        self.bytes = 0

    def push(self, key: Hashable, size: int) -> None:
        """Add ``key`` as the newest entry."""
        self.sizes[key] = size
        self.bytes += size

    def pop(self, key: Hashable) -> int:
        """Drop ``key``; return its size."""
        size = self.sizes.pop(key)
        self.bytes -= size
        return size

    def touch(self, key: Hashable) -> None:
        """Make ``key`` the newest entry."""
        self.sizes.move_to_end(key)

    def oldest(self) -> Hashable | None:
        return next(iter(self.sizes), None)

    def clear(self) -> None:
        self.sizes.clear()
        self.bytes = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self.sizes

    def __len__(self) -> int:
        return len(self.sizes)
