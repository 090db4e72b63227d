"""GDSF: Cherkasova, "Improving WWW Proxies Performance with Greedy-Dual-Size-Frequency Caching
Policy", HP Laboratories report HPL-98-69R1, 1998."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable

__all__ = ["GDSF"]


class GDSF:
    """Greedy-Dual-Size-Frequency with cost 1: the entry of lowest priority leaves.

    An entry's priority is ``L + frequency / size``, set when it enters and at every hit, where
    the inflation value ``L`` is the priority of the last victim; small, often read entries stay.
    Ties go to the entry whose priority was set first. A heap with lazy deletion makes each
    operation O(log n); stale heap items are dropped when they surface or when they outnumber
    the live ones.
    """

    def __init__(self) -> None:
        self.inflation = 0.0
        self._heap: list[tuple[float, int, Hashable]] = []
        self._live: dict[Hashable, tuple[float, int]] = {}  # key -> its current heap item
        self._freq: dict[Hashable, int] = {}
        self._size: dict[Hashable, int] = {}
        self._order = itertools.count()

    def on_insert(self, key: Hashable, size: int) -> None:
        self._freq[key], self._size[key] = 1, max(size, 1)
        self._push(key)

    def on_hit(self, key: Hashable) -> None:
        self._freq[key] += 1
        self._push(key)

    def on_remove(self, key: Hashable) -> None:
        del self._live[key], self._freq[key], self._size[key]

    def evict(self) -> Hashable:
        key = self.peek()
        if key is None:
            raise LookupError("GDSF: no entry to evict")
        self.inflation = self._live[key][0]
        heapq.heappop(self._heap)
        self.on_remove(key)
        return key

    def peek(self) -> Hashable | None:
        while self._heap:
            priority, order, key = self._heap[0]
            if self._live.get(key) == (priority, order):
                return key
            heapq.heappop(self._heap)
        return None

    def priority(self, key: Hashable) -> float:
        return self._live[key][0]

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._live)

    def _push(self, key: Hashable) -> None:
        item = (self.inflation + self._freq[key] / self._size[key], next(self._order))
        self._live[key] = item
        heapq.heappush(self._heap, (*item, key))
        if len(self._heap) > 2 * len(self._live) + 64:
            self._heap = [(p, o, k) for k, (p, o) in self._live.items()]
            heapq.heapify(self._heap)
