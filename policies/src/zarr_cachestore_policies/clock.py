"""CLOCK: Corbató, "A Paging Experiment with the Multics System", MIT Project MAC, 1968."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["Clock"]


class Clock:
    """CLOCK (second chance) with one reference bit, kept as FIFO-reinsertion.

    Entries join the head of a FIFO with the bit clear; a hit sets it. To evict, the entry at the
    tail is taken if its bit is clear, else the bit is cleared and the entry goes back to the
    head. Moving the hand round a circular buffer is the same order as this reinsertion, which is
    also how libCacheSim's ``Clock`` (one-bit counter) works. O(1) amortized.

    :meth:`peek` does the reinsertions too but removes nothing, so :meth:`evict` agrees with it.
    """

    def __init__(self) -> None:
        self._referenced: OrderedDict[Hashable, bool] = OrderedDict()  # tail (oldest) first

    def on_insert(self, key: Hashable, size: int) -> None:
        self._referenced[key] = False

    def on_hit(self, key: Hashable) -> None:
        self._referenced[key] = True

    def on_remove(self, key: Hashable) -> None:
        del self._referenced[key]

    def evict(self) -> Hashable:
        key = self.peek()
        if key is None:
            raise LookupError("Clock: no entry to evict")
        del self._referenced[key]
        return key

    def peek(self) -> Hashable | None:
        while self._referenced:
            key, referenced = next(iter(self._referenced.items()))
            if not referenced:
                return key
            self._referenced[key] = False
            self._referenced.move_to_end(key)
        return None

    def clear(self) -> None:
        self._referenced.clear()

    def __len__(self) -> int:
        return len(self._referenced)
