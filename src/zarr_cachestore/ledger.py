"""The ledger: what the cache holds, how big it is and until when, under one byte budget.

The ledger is the only place that calls the eviction and admission policies, and it changes
its books only once a policy has accepted the change. A whole value held in memory under its own
key, with nothing else to say (no deadline), is its own record: its size is its length, and the
ledger's dict is then the only map the cache keeps of it. A policy that raises is contained here:
the entry involved is dropped, and if the policy may have lost track of its entries (it failed
to evict, insert or forget one) the ledger starts afresh with a cleared policy, releasing all it
held. The books and the bytes held never disagree.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, TypeAlias

import attrs

from zarr_cachestore.protocols import (
    AdmissionPolicy,
    CapacityAware,
    EvictionPolicy,
    InsertAware,
)
from zarr_cachestore.stats import Faults, logger

if TYPE_CHECKING:
    from zarr.core.buffer import Buffer

__all__ = ["Entry", "Ledger", "Record", "empty_entry_limit", "size_of"]


@attrs.define(eq=False)
class Entry:
    """One held entry: ``size`` bytes, until ``deadline``, under ``name`` in the cache tier.

    ``ready`` turns true once its bytes are wholly in the tier; ``absent`` marks a remembered
    "no such key" (negative caching).
    """

    size: int
    deadline: float = math.inf
    name: str = ""
    ready: bool = True
    absent: bool = False


Record: TypeAlias = "Entry | Buffer"  # an entry, or a value held in memory that is its own


def size_of(record: Record) -> int:
    """The bytes a record holds."""
    return record.size if type(record) is Entry else len(record)  # type: ignore[arg-type]


def empty_entry_limit(capacity: int) -> int:
    """How many entries of no bytes (remembered absences, empty values and ranges) a budget of
    ``capacity`` bytes holds: their bookkeeping, a few hundred bytes each, stays within about
    the budget itself."""
    return max(64, capacity // 256)


Release = Callable[[Hashable, Record], None]


class Ledger:
    """Records by key, the bytes they hold, and the policies that order and admit them.

    Not thread-safe by itself: the engine calls it under its lock. Every entry that leaves is
    handed to ``release``, which frees its bytes.
    """

    def __init__(
        self,
        capacity: int | None,
        eviction: EvictionPolicy,
        admission: AdmissionPolicy,
        faults: Faults,
        release: Release,
    ) -> None:
        self.capacity = capacity
        self.eviction = eviction
        self.admission = admission
        self.faults = faults
        self.used = 0
        self._release = release
        self._entries: dict[Hashable, Record] = {}
        self.get: Callable[[Hashable], Record | None] = self._entries.get  # the record of a key
        self._empty: OrderedDict[Hashable, None] = OrderedDict()  # byte-less entries, oldest first
        self._empty_limit = math.inf if capacity is None else empty_entry_limit(capacity)
        self._before_insert = eviction.before_insert if isinstance(eviction, InsertAware) else None
        if capacity is not None and isinstance(eviction, CapacityAware):
            eviction.set_capacity(capacity)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> Iterator[Record]:
        return iter(list(self._entries.values()))

    def items(self) -> list[tuple[Hashable, Record]]:
        return list(self._entries.items())

    def admit(self, key: Hashable, entry: Record) -> bool:
        """Insert ``entry`` under ``key``, evicting as needed; whether it was admitted.

        An older entry of ``key`` is dropped first, whether or not the new one is admitted.
        """
        self.remove(key)
        size, capacity = size_of(entry), self.capacity
        if (capacity is not None and size > capacity) or (size and not self._admitted(key, size)):
            self.faults.stats.admissions_refused += 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "refused %r (%d bytes) with %d of %s bytes used", key, size, self.used, capacity
                )
            return False
        if not self._make_room(key, size):
            return False
        try:
            self.eviction.on_insert(key, size)
        except Exception as error:
            self._reset_after(error)  # the policy may hold half of the key
            return False
        self._entries[key] = entry
        self.used += size
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "admitted %r (%d bytes); %d of %s bytes used", key, size, self.used, capacity
            )
        if not size:
            self._empty[key] = None
            if len(self._empty) > self._empty_limit:
                self.remove(next(iter(self._empty)))
        return True

    def remove(self, key: Hashable, *, release: bool = True) -> bool:
        """Drop ``key`` if held (a write, delete, expiry or lost bytes); whether it was.

        ``release=False`` when its bytes are gone already.
        """
        entry = self._entries.get(key)
        if entry is None:
            return False
        try:
            self.eviction.on_remove(key)
        except Exception as error:
            self._reset_after(error)  # the policy may still name the key as a victim
            return True
        self._forget(key, entry, release=release)
        return True

    def hit(self, key: Hashable) -> bool:
        """Tell the eviction policy ``key`` was read; ``False`` if it failed (``key`` dropped)."""
        try:
            self.eviction.on_hit(key)
        except Exception as error:
            self.remove(key)
            self.faults.strategy(self.eviction, error)
            return False
        return True

    def clear(self) -> None:
        """Forget every entry without releasing them: the caller drops all bytes at once."""
        self._entries.clear()
        self._empty.clear()
        self.used = 0
        try:
            self.eviction.clear()
        except Exception as error:
            self.faults.strategy(self.eviction, error)

    def _admitted(self, key: Hashable, size: int) -> bool:
        capacity = self.capacity
        room_needed = capacity is not None and self.used + size > capacity
        try:
            victim = self.eviction.peek() if room_needed else None
        except Exception as error:
            self.faults.strategy(self.eviction, error)
            victim = None
        try:
            return self.admission.admit(key, size, capacity=capacity, victim=victim)
        except Exception as error:
            self.faults.strategy(self.admission, error)
            return False

    def _make_room(self, key: Hashable, size: int) -> bool:
        """Evict until ``size`` more bytes fit; whether the policy managed it."""
        try:
            if self._before_insert is not None:
                self._before_insert(key, size)
        except Exception as error:
            self.faults.strategy(self.eviction, error)
            return False
        capacity = self.capacity
        while capacity is not None and self.used + size > capacity:
            try:
                victim = self.eviction.evict()
            except Exception as error:
                self._reset_after(error)
                return False
            entry = self._entries.get(victim)
            if entry is None:
                self._reset_after(LookupError(f"evicted {victim!r}, which the cache does not hold"))
                return False
            self._forget(victim, entry)
            self.faults.stats.evictions += 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "evicted %r (%d bytes) to make room for %r", victim, size_of(entry), key
                )
        return True

    def _forget(self, key: Hashable, entry: Record, *, release: bool = True) -> None:
        del self._entries[key]
        size = size_of(entry)
        self.used -= size
        if not size:
            self._empty.pop(key, None)
        if release:
            self._release(key, entry)

    def _reset_after(self, error: Exception) -> None:
        """The eviction policy failed mid-change: release everything and start afresh."""
        entries = dict(self._entries)
        self._entries.clear()
        self._empty.clear()
        self.used = 0
        for key, entry in entries.items():
            self._release(key, entry)
        try:
            self.eviction.clear()
        except Exception as clear_error:
            self.faults.strategy(self.eviction, clear_error)
        self.faults.strategy(self.eviction, error)
