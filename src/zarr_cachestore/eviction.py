"""Built-in eviction policies: LRU (the default), LFU and FIFO. Each is O(1) per operation."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["FIFO", "LFU", "LRU"]


class LRU:
    """Least recently used: the entry read or written longest ago leaves first."""

    def __init__(self) -> None:
        self._order: OrderedDict[Hashable, None] = OrderedDict()

    def on_insert(self, key: Hashable, size: int) -> None:
        self._order[key] = None

    def on_hit(self, key: Hashable) -> None:
        self._order.move_to_end(key)

    def on_remove(self, key: Hashable) -> None:
        del self._order[key]

    def evict(self) -> Hashable:
        if not self._order:
            raise LookupError("LRU: no entry to evict")
        return self._order.popitem(last=False)[0]

    def peek(self) -> Hashable | None:
        return next(iter(self._order), None)

    def clear(self) -> None:
        self._order.clear()

    def __len__(self) -> int:
        return len(self._order)


class FIFO(LRU):
    """First in, first out: entries leave in the order they entered; hits change nothing."""

    def on_hit(self, key: Hashable) -> None:
        pass


class LFU:
    """Least frequently used, in O(1): keys sit in per-frequency buckets kept in a linked list.

    An entry starts at frequency 1 and gains 1 per hit. The victim is the least recently used
    entry among those of the lowest frequency.
    """

    def __init__(self) -> None:
        self._freq: dict[Hashable, int] = {}
        self._buckets: dict[int, OrderedDict[Hashable, None]] = {}
        # Frequencies in use, in increasing order, as a ring through the sentinel 0.
        self._next: dict[int, int] = {0: 0}
        self._prev: dict[int, int] = {0: 0}

    def on_insert(self, key: Hashable, size: int) -> None:
        self._move(key, 1, after=0)

    def on_hit(self, key: Hashable) -> None:
        freq = self._freq[key]
        del self._buckets[freq][key]
        self._move(key, freq + 1, after=freq)
        self._drop_if_empty(freq)

    def on_remove(self, key: Hashable) -> None:
        freq = self._freq.pop(key)
        del self._buckets[freq][key]
        self._drop_if_empty(freq)

    def evict(self) -> Hashable:
        key = self.peek()
        if key is None:
            raise LookupError("LFU: no entry to evict")
        self.on_remove(key)
        return key

    def peek(self) -> Hashable | None:
        lowest = self._next[0]
        return next(iter(self._buckets[lowest])) if lowest else None

    def clear(self) -> None:
        self._freq.clear()
        self._buckets.clear()
        self._next, self._prev = {0: 0}, {0: 0}

    def __len__(self) -> int:
        return len(self._freq)

    def _move(self, key: Hashable, freq: int, *, after: int) -> None:
        if freq not in self._buckets:
            self._buckets[freq] = OrderedDict()
            following = self._next[after]
            self._next[after], self._prev[freq] = freq, after
            self._next[freq], self._prev[following] = following, freq
        self._buckets[freq][key] = None
        self._freq[key] = freq

    def _drop_if_empty(self, freq: int) -> None:
        if self._buckets[freq]:
            return
        del self._buckets[freq]
        before, after = self._prev.pop(freq), self._next.pop(freq)
        self._next[before], self._prev[after] = after, before
