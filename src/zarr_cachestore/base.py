"""Base classes for writing eviction policies.

:class:`PriorityPolicy` is the quickest way to try an idea: override its ``priority`` method,
and the entry with the lowest priority is evicted first. It keeps a heap with lazy deletion, so
every operation is O(log n). For O(1) policies built on recency or insertion order, subclass the
built-in :class:`~zarr_cachestore.LRU` or :class:`~zarr_cachestore.FIFO` and override their hooks.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable

import attrs

__all__ = ["EntryInfo", "PriorityPolicy"]


@attrs.define
class EntryInfo:
    """What a priority policy knows of one entry."""

    size: int
    hits: int = 0  # reads since the entry was inserted
    inserted_at: int = 0  # logical time: the number of inserts and hits before this one
    last_access: int = 0
    priority: float = 0.0  # as last computed, on its insert or latest hit


class PriorityPolicy:
    """Evicts the entry of lowest :meth:`priority`, recomputed on every insert and hit.

    Ties go to the entry whose priority was set first. Subclasses override :meth:`priority`
    and may read ``self.time`` (logical time) and keep state of their own (reset it in
    :meth:`clear`, calling ``super().clear()``).
    """

    def __init__(self) -> None:
        self.entries: dict[Hashable, EntryInfo] = {}
        self.time = 0
        self._heap: list[tuple[float, int, Hashable]] = []
        self._current: dict[Hashable, int] = {}  # key -> sequence number of its live heap item
        self._sequence = itertools.count()

    def priority(self, key: Hashable, info: EntryInfo) -> float:
        """The entry's priority now; the lowest is evicted first. LRU by default."""
        return info.last_access

    def on_victim(self, key: Hashable, info: EntryInfo) -> None:
        """Called as ``key`` is evicted (e.g. to age the others, as GDSF does)."""

    def on_insert(self, key: Hashable, size: int) -> None:
        self.time += 1
        self.entries[key] = EntryInfo(size, inserted_at=self.time, last_access=self.time)
        self._push(key)

    def on_hit(self, key: Hashable) -> None:
        self.time += 1
        info = self.entries[key]
        info.hits += 1
        info.last_access = self.time
        self._push(key)

    def on_remove(self, key: Hashable) -> None:
        del self.entries[key], self._current[key]

    def evict(self) -> Hashable:
        key = self.peek()
        if key is None:
            raise LookupError(f"{type(self).__name__}: no entry to evict")
        heapq.heappop(self._heap)
        info = self.entries[key]
        self.on_remove(key)
        self.on_victim(key, info)
        return key

    def peek(self) -> Hashable | None:
        heap = self._heap
        while heap and self._current.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)  # a stale item: the key was re-prioritized or removed
        return heap[0][2] if heap else None

    def clear(self) -> None:
        self.entries.clear()
        self._heap.clear()
        self._current.clear()
        self.time = 0

    def __len__(self) -> int:
        return len(self.entries)

    def _push(self, key: Hashable) -> None:
        sequence = next(self._sequence)
        self._current[key] = sequence
        info = self.entries[key]
        info.priority = self.priority(key, info)
        heapq.heappush(self._heap, (info.priority, sequence, key))
        if len(self._heap) > 2 * len(self.entries) + 64:  # too many stale items: rebuild
            self._heap = [item for item in self._heap if self._current.get(item[2]) == item[1]]
            heapq.heapify(self._heap)
