"""Prefetching: strategies that name the keys to fetch in the background after each read.

A prefetcher does bookkeeping only. The store tells it of every read it serves, hit or miss,
as an :class:`Access` (with the chunk the key names and the array's :class:`ChunkGrid` when
known) and fetches what it answers, :class:`Fetch` by :class:`Fetch`, in order, through its own
admission and eviction. Calls are made one at a time.

For a sharded array, store keys name shards: every read of an inner chunk is an access to its
shard's key, with the byte range read. The built-ins fetch whole shards, since where an inner
chunk lies is known only from the shard's index.
"""

from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from zarr_cachestore.chunks import ChunkKey, parse_chunk_key
from zarr_cachestore.grid import ChunkGrid

if TYPE_CHECKING:
    from zarr.abc.store import ByteRequest

__all__ = [
    "Access",
    "ChunkPrefetcher",
    "Coords",
    "Fetch",
    "Neighbors",
    "NoPrefetch",
    "PrefetchPolicy",
    "Sequential",
]

Coords = tuple[int, ...]


@attrs.frozen
class Access:
    """A read of ``key`` (of ``byte_range`` of it, if given), and what is known of its array."""

    key: str
    chunk: ChunkKey | None = None  # the array and grid coordinates the key names, if a chunk
    grid: ChunkGrid | None = None  # the grid of that array, if the store has read it
    byte_range: ByteRequest | None = None

    @classmethod
    def of(
        cls, key: str, grid: ChunkGrid | None = None, byte_range: ByteRequest | None = None
    ) -> Access:
        """The access to ``key``, its chunk parsed with the rank of ``grid`` when given."""
        chunk = parse_chunk_key(key, ndim=None if grid is None else grid.ndim)
        if grid is not None and chunk is not None and chunk.array != grid.path:
            raise ValueError(
                f"{key!r} is a chunk of array {chunk.array!r}, not of {grid.path!r}: pass the "
                "grid of the key's own array (metadata_keys(key) names its metadata)"
            )
        return cls(key, chunk, grid, byte_range)


@attrs.frozen
class Fetch:
    """Fetch ``key`` into the cache: all of it, or ``byte_range`` of it."""

    key: str
    byte_range: ByteRequest | None = None


@runtime_checkable
class PrefetchPolicy(Protocol):
    """Names what to fetch in the background after each read."""

    def on_access(self, access: Access) -> Sequence[Fetch]:
        """``access`` was served; return what to fetch next, most wanted first."""

    def clear(self) -> None:
        """Forget every access (the cache was cleared)."""


class NoPrefetch:
    """Fetch nothing: the default."""

    def on_access(self, access: Access) -> list[Fetch]:
        return []

    def clear(self) -> None:
        pass


class ChunkPrefetcher:
    """Base of prefetchers that map the chunk just read to the grid coordinates to fetch.

    Subclasses override :meth:`next_coords`. This class keeps each array's last ``history``
    distinct chunks read, and ignores reads of keys that name no chunk of a known grid, or the
    array's latest chunk again (as every byte range of one shard does). Of the coordinates
    :meth:`next_coords` yields it drops those outside the grid, the chunk read itself, and keys
    read or asked for among the last ``memory`` keys it has seen; it answers the first
    ``limit`` of the rest, as whole keys.
    """

    def __init__(self, *, limit: int = 16, history: int = 16, memory: int = 1024) -> None:
        for name, value in (("limit", limit), ("history", history), ("memory", memory)):
            if value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be >= 1, got {value}")
        self.limit, self.history, self.memory = limit, history, memory
        self._reads = 0
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._histories: OrderedDict[str, dict[Coords, int]] = OrderedDict()

    def next_coords(
        self, chunk: Coords, grid: ChunkGrid, history: Mapping[Coords, int]
    ) -> Iterable[Coords]:
        """The coordinates to fetch after reading ``chunk``, most wanted first.

        ``history`` maps the array's last chunks read, ``chunk`` included, to when each was
        last read (a count of reads: larger is later), oldest first.
        """
        raise NotImplementedError

    def on_access(self, access: Access) -> list[Fetch]:
        self._remember(access.key)
        chunk, grid = access.chunk, access.grid
        if chunk is None or grid is None or not grid.contains(chunk.coords):
            return []
        history = self._history_of(chunk.array)
        if history and next(reversed(history)) == chunk.coords:
            return []
        self._reads += 1
        history.pop(chunk.coords, None)
        history[chunk.coords] = self._reads
        if len(history) > self.history:
            del history[next(iter(history))]
        fetches: list[Fetch] = []
        for coords in self.next_coords(chunk.coords, grid, history):
            if coords == chunk.coords or not grid.contains(coords):
                continue
            key = grid.key_for(coords)
            if key not in self._recent:
                self._remember(key)
                fetches.append(Fetch(key))
                if len(fetches) == self.limit:
                    break
        return fetches

    def clear(self) -> None:
        self._reads = 0
        self._recent.clear()
        self._histories.clear()

    def _remember(self, key: str) -> None:
        self._recent[key] = None
        self._recent.move_to_end(key)
        if len(self._recent) > self.memory:
            self._recent.popitem(last=False)

    def _history_of(self, array: str) -> dict[Coords, int]:
        histories = self._histories
        history = histories.get(array)
        if history is None:
            history = histories[array] = {}
            if len(histories) > self.memory:
                histories.popitem(last=False)
        histories.move_to_end(array)
        return history


def _moved(coords: Coords, axis: int, by: int) -> Coords:
    return (*coords[:axis], coords[axis] + by, *coords[axis + 1 :])


class Sequential(ChunkPrefetcher):
    """The next ``n`` chunks along the run in which an array is being read.

    A chunk read extends a run when the two chunks before it along one axis, in either
    direction, are among the array's last ``history`` chunks read: a scan forward, backward, or
    a window sliding along that axis, whatever the order of reads within the window. If several
    axes have a run, the one whose previous chunk was read last wins. The run stops at the edge
    of the grid.
    """

    def __init__(self, n: int = 4, *, history: int = 16, memory: int = 1024) -> None:
        if n < 1 or history < 3:
            raise ValueError(f"Sequential: need n >= 1 and history >= 3, got {n} and {history}")
        super().__init__(limit=n, history=history, memory=memory)
        self.n = n

    def next_coords(
        self, chunk: Coords, grid: ChunkGrid, history: Mapping[Coords, int]
    ) -> Iterable[Coords]:
        runs = [
            (history[_moved(chunk, axis, -step)], axis, step)
            for axis in range(len(chunk))
            for step in (1, -1)
            if _moved(chunk, axis, -step) in history and _moved(chunk, axis, -2 * step) in history
        ]
        if not runs:
            return ()
        _, axis, step = max(runs)
        ahead = (_moved(chunk, axis, k * step) for k in range(1, self.n + 1))
        return itertools.takewhile(grid.contains, ahead)


@functools.cache
def _offsets(radius: int, ndim: int) -> tuple[Coords, ...]:
    """The non-zero offsets with every coordinate in ``[-radius, radius]``, nearest first."""
    cube = itertools.product(range(-radius, radius + 1), repeat=ndim)
    near = sorted(cube, key=lambda o: (max(map(abs, o)), sum(map(abs, o)), o))
    return tuple(o for o in near if any(o))


class Neighbors(ChunkPrefetcher):
    """The chunks around each chunk read: every coordinate within ``radius`` of it.

    Nearest first (by the largest coordinate difference, then their sum), inside the grid.
    Chunks read or asked for among the last ``memory`` keys are not asked for again, so over a
    window of reads their whole neighbourhood is fetched once, as each read comes in.
    """

    def __init__(self, radius: int = 1, *, limit: int = 32, memory: int = 1024) -> None:
        if radius < 1:
            raise ValueError(f"Neighbors: radius must be >= 1, got {radius}")
        super().__init__(limit=limit, history=1, memory=memory)
        self.radius = radius

    def next_coords(
        self, chunk: Coords, grid: ChunkGrid, history: Mapping[Coords, int]
    ) -> Iterable[Coords]:
        for offset in _offsets(self.radius, len(chunk)):
            yield tuple(c + o for c, o in zip(chunk, offset, strict=True))
