"""The in-memory request trace: parallel numpy arrays of object ids and request sizes."""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["Trace", "WorkingSet"]

IntArray = npt.NDArray[np.integer]


@attrs.frozen
class WorkingSet:
    """The distinct objects of a trace and their bytes (each at its first requested size)."""

    objects: int
    bytes: int


@attrs.frozen(eq=False)
class Trace:
    """A sequence of requests; iterating yields ``(key, size)`` pairs of Python ints.

    ``keys`` are integer object ids, ``sizes`` request sizes in bytes and ``timestamps``
    (optional) request times in seconds. ``names`` (optional) are the cache keys the ids stand
    for, indexed by id: ``str`` store keys, or :class:`~zarr_cachestore.RangeKey` for byte
    ranges. A trace with names replays them to policies, as ``CacheStore`` would.
    """

    keys: IntArray = attrs.field(converter=np.asarray)
    sizes: IntArray = attrs.field(converter=np.asarray)
    timestamps: IntArray | None = None
    name: str = ""
    names: Sequence[Hashable] | None = None

    def __attrs_post_init__(self) -> None:
        if self.keys.shape != self.sizes.shape or self.keys.ndim != 1:
            raise ValueError("keys and sizes must be 1-d arrays of the same length")
        if self.sizes.size and int(self.sizes.min()) < 0:
            raise ValueError("request sizes must be >= 0")
        if self.names is not None and self.keys.size and int(self.keys.max()) >= len(self.names):
            raise ValueError("names must hold one cache key for every object id of the trace")

    def __len__(self) -> int:
        return int(self.keys.size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for keys, sizes in self.chunks():
            yield from zip(keys, sizes, strict=True)

    def chunks(
        self, length: int = 1 << 16, *, named: bool = False
    ) -> Iterator[tuple[list[Any], list[int]]]:
        """The requests as ``(keys, sizes)`` lists of Python ints, ``length`` at a time.

        With ``named``, keys are the trace's :attr:`names` when it has them.
        """
        names = self.names if named else None
        for start in range(0, len(self), length):
            stop = start + length
            keys = self.keys[start:stop].tolist()
            if names is not None:
                keys = [names[k] for k in keys]
            yield keys, self.sizes[start:stop].tolist()

    def working_set(self) -> WorkingSet:
        """Distinct objects and their total bytes, as libCacheSim counts them."""
        if not len(self):
            return WorkingSet(0, 0)
        _, first = np.unique(self.keys, return_index=True)
        return WorkingSet(int(first.size), int(self.sizes[first].sum(dtype=np.int64)))

    @property
    def total_bytes(self) -> int:
        """The bytes of all requests."""
        return int(self.sizes.sum(dtype=np.int64))

    @classmethod
    def from_records(
        cls, records: Iterable[tuple[Hashable, int]], name: str = "", *, keep_names: bool = False
    ) -> Trace:
        """A trace of ``(key, size)`` records; keys become dense ids in order of first use.

        With ``keep_names`` the keys are kept as the trace's :attr:`names`.
        """
        ids: dict[Hashable, int] = {}
        keys, sizes = array("q"), array("q")
        for key, size in records:
            keys.append(ids.setdefault(key, len(ids)))
            sizes.append(size)
        return cls(
            np.frombuffer(keys, dtype=np.int64),
            np.frombuffer(sizes, np.int64),
            name=name,
            names=list(ids) if keep_names else None,
        )
