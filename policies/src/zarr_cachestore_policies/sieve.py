"""SIEVE: Zhang, Yang, Yue, Vigfusson and Rashmi, "SIEVE is Simpler than LRU", NSDI 2024."""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["Sieve"]

_END: Hashable = object()  # the sentinel closing the queue into a ring


class Sieve:
    """SIEVE: a FIFO queue with one visited bit per entry and a hand that sweeps it.

    New entries go to the head (the newest end) unvisited; a hit sets the bit. To evict, the hand
    moves from the tail (oldest) towards the head, clearing visited bits, wrapping round to the
    tail, and takes the first unvisited entry; it then rests on that entry's newer neighbour.
    Survivors stay in place. O(1) amortized, as in libCacheSim's ``Sieve``.

    :meth:`peek` does the sweep too (clearing bits and moving the hand) but removes nothing, so a
    following :meth:`evict` returns the same entry.
    """

    def __init__(self) -> None:
        self._visited: dict[Hashable, bool] = {}
        self._newer: dict[Hashable, Hashable] = {_END: _END}  # _newer[_END] is the oldest
        self._older: dict[Hashable, Hashable] = {_END: _END}  # _older[_END] is the newest
        self._hand = _END  # _END: start the next sweep at the oldest entry

    def on_insert(self, key: Hashable, size: int) -> None:
        newest = self._older[_END]
        self._newer[newest], self._older[key] = key, newest
        self._newer[key], self._older[_END] = _END, key
        self._visited[key] = False

    def on_hit(self, key: Hashable) -> None:
        self._visited[key] = True

    def on_remove(self, key: Hashable) -> None:
        if self._hand == key:
            self._hand = self._newer[key]
        del self._visited[key]
        older, newer = self._older.pop(key), self._newer.pop(key)
        self._newer[older], self._older[newer] = newer, older

    def evict(self) -> Hashable:
        key = self.peek()
        if key is None:
            raise LookupError("Sieve: no entry to evict")
        self.on_remove(key)
        return key

    def peek(self) -> Hashable | None:
        if not self._visited:
            return None
        key = self._newer[_END] if self._hand is _END else self._hand
        while self._visited[key]:
            self._visited[key] = False
            key = self._newer[key]
            if key is _END:
                key = self._newer[_END]
        self._hand = key
        return key

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._visited)
