"""Frontier: a segmented LRU that reads zarr chunk coordinates from store keys.

Array readers move: a viewer slides a window along an axis, a map pans a viewport, a drill
reads down the time axis. Each chunk is read several times while the reader passes over it
(windows overlap), then seldom again, unless the reader comes back. Plain LRU treats both kinds
of rereads alike and fills up with chunks just passed; frequency-based policies count the
overlap rereads as popularity. This policy tells them apart by where the reader is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from itertools import islice

import attrs
from zarr_cachestore.chunks import parse_chunk_key

from zarr_cachestore_policies._common import Budget, Budgeted

__all__ = ["Frontier"]


@attrs.define
class _Reader:
    """Where the reader of one array is: its last chunk, its heading and its run number."""

    at: tuple[int, ...]
    heading: list[float]
    run: int = 0


@attrs.define
class _Entry:
    size: int
    array: str | None  # None: the key names no chunk
    coords: tuple[int, ...]
    run: int  # the reader's run at the entry's last access


class Frontier(Budgeted):
    """Segmented LRU promoting chunks reread on a *return*, evicting chunks left behind.

    For every array it keeps a reader: the last chunk accessed, the heading (a moving average
    of the steps between consecutive accesses) and a run number. A run ends when an access
    lands more than ``reach`` chunks away (Chebyshev distance) from the previous one: a jump.

    * New entries go to probation (LRU). A hit within the same run as the entry's last access
      (a window overlapping the previous one) only refreshes it; a hit in a later run (the
      reader came back) moves it to the protected segment (LRU, at most ``protected`` of the
      budget; its overflow goes back to probation as its newest entry).
    * A key evicted from probation is remembered (as many as there are entries); missed again
      (a return the cache was too small to see), it enters protected directly.
    * The victim is taken from probation while it has entries: among its ``scan`` oldest, the
      one farthest from its array's reader, distances behind the heading counting double; the
      oldest wins ties. Otherwise protected's least recently used entry leaves.

    Keys that name no chunk (metadata, other hashables) are promoted at any hit. A
    ``RangeKey`` is placed by the chunk (or shard) its ``key`` names. Each operation is O(1)
    (``scan`` is a constant). Without ``set_capacity`` the budget is learned as the peak of
    bytes tracked (see :class:`~zarr_cachestore_policies.Budget`).
    """

    def __init__(
        self, *, reach: int = 4, scan: int = 8, protected: float = 0.5, capacity: int | None = None
    ) -> None:
        if reach < 0 or scan < 1 or not 0 <= protected <= 1:
            raise ValueError(
                f"need reach >= 0, scan >= 1 and 0 <= protected <= 1; got reach={reach!r}, "
                f"scan={scan!r}, protected={protected!r}"
            )
        self.reach, self.scan, self.protected_share = reach, scan, protected
        self._budget = Budget(capacity)
        self._entries: dict[Hashable, _Entry] = {}
        self._probation: OrderedDict[Hashable, None] = OrderedDict()  # oldest first
        self._protected: OrderedDict[Hashable, None] = OrderedDict()
        self._protected_bytes = 0
        self._ghosts: OrderedDict[Hashable, None] = OrderedDict()
        self._readers: dict[str, _Reader] = {}

    def on_insert(self, key: Hashable, size: int) -> None:
        array, coords = _chunk_of(key)
        run = self._move(array, coords)
        self._entries[key] = _Entry(size, array, coords, run)
        self._budget.add(size)
        if key in self._ghosts:
            del self._ghosts[key]
            self._protect(key)
        else:
            self._probation[key] = None

    def on_hit(self, key: Hashable) -> None:
        entry = self._entries[key]
        run = self._move(entry.array, entry.coords)
        returned = entry.array is None or run != entry.run
        entry.run = run
        if key in self._protected:
            self._protected.move_to_end(key)
        elif returned:
            del self._probation[key]
            self._protect(key)
        else:
            self._probation.move_to_end(key)

    def on_remove(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._budget.sub(entry.size)
        if key in self._protected:
            del self._protected[key]
            self._protected_bytes -= entry.size
        else:
            del self._probation[key]

    def evict(self) -> Hashable:
        key = self.peek()
        if key is None:
            raise LookupError("Frontier: no entry to evict")
        from_probation = key in self._probation
        self.on_remove(key)
        if from_probation:
            self._ghosts[key] = None
            while len(self._ghosts) > max(len(self._entries), 1):
                self._ghosts.popitem(last=False)
        self._budget.full = True
        return key

    def peek(self) -> Hashable | None:
        if self._probation:
            oldest = islice(self._probation, self.scan)
            return max(oldest, key=self._remoteness)  # max keeps the first (oldest) of ties
        return next(iter(self._protected), None)

    def clear(self) -> None:
        self.__init__(  # type: ignore[misc]
            reach=self.reach,
            scan=self.scan,
            protected=self.protected_share,
            capacity=self._budget.fixed,
        )

    def __len__(self) -> int:
        return len(self._entries)

    def _move(self, array: str | None, coords: tuple[int, ...]) -> int:
        """The reader of ``array`` reaches ``coords``; return its run number."""
        if array is None:
            return 0
        reader = self._readers.get(array)
        if reader is None or len(reader.at) != len(coords):
            reader = self._readers[array] = _Reader(coords, [0.0] * len(coords))
        step = [c - a for c, a in zip(coords, reader.at, strict=True)]
        if max(map(abs, step), default=0) > self.reach:
            reader.run += 1
        else:
            reader.heading = [0.9 * h + 0.1 * s for h, s in zip(reader.heading, step, strict=True)]
        reader.at = coords
        return reader.run

    def _remoteness(self, key: Hashable) -> float:
        """How far ``key``'s chunk is from its reader; behind the heading counts double."""
        entry = self._entries[key]
        if entry.array is None:
            return 0.0
        reader = self._readers[entry.array]
        if len(reader.at) != len(entry.coords):
            return 0.0
        offset = [c - a for c, a in zip(entry.coords, reader.at, strict=True)]
        distance = float(max(map(abs, offset), default=0))
        behind = sum(o * h for o, h in zip(offset, reader.heading, strict=True)) < 0
        return 2 * distance if behind else distance

    def _protect(self, key: Hashable) -> None:
        self._protected[key] = None
        self._protected_bytes += self._entries[key].size
        limit = self.protected_share * self._budget.capacity if self._budget.known else None
        while limit is not None and self._protected_bytes > limit and len(self._protected) > 1:
            demoted, _ = self._protected.popitem(last=False)
            self._protected_bytes -= self._entries[demoted].size
            self._probation[demoted] = None


def _chunk_of(key: Hashable) -> tuple[str | None, tuple[int, ...]]:
    """The array and chunk coordinates a cache key names, or ``(None, ())``."""
    store_key = key if isinstance(key, str) else getattr(key, "key", None)
    chunk = parse_chunk_key(store_key) if isinstance(store_key, str) else None
    return (None, ()) if chunk is None else (chunk.array, chunk.coords)
