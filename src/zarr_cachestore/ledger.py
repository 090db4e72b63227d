"""The ledger: what the cache holds, how big it is and until when, under one byte budget."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator
from typing import Any

import attrs

from zarr_cachestore.protocols import AdmissionPolicy, EvictionPolicy, tell_capacity

__all__ = ["Entry", "Ledger", "Stats"]


@attrs.define(eq=False)
class Entry:
    """One held entry. ``ready`` turns true once its bytes are fully in the cache tier."""

    size: int
    deadline: float = math.inf
    ready: bool = True
    absent: bool = False  # a remembered "no such key" (negative caching)


@attrs.define
class Stats:
    """Counters of one cache; ``as_dict`` adds the derived ratios."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0
    admissions_refused: int = 0
    coalesced: int = 0
    cache_errors: int = 0
    bytes_from_cache: int = 0
    bytes_from_source: int = 0

    def as_dict(self) -> dict[str, Any]:
        counts = attrs.asdict(self)
        total = self.hits + self.misses
        moved = self.bytes_from_cache + self.bytes_from_source
        return {
            **counts,
            "total_requests": total,
            "hit_rate": self.hits / total if total else 0.0,
            "byte_hit_rate": self.bytes_from_cache / moved if moved else 0.0,
        }


class Ledger:
    """Entries by key, the bytes they hold, and the eviction policy that orders them.

    Not thread-safe by itself: the store calls it under its lock. Every method that removes
    entries returns the keys removed, so the store can release their bytes.
    """

    def __init__(
        self,
        capacity: int | None,
        eviction: EvictionPolicy,
        admission: AdmissionPolicy,
        stats: Stats,
    ) -> None:
        self.capacity = capacity
        self.eviction = eviction
        self._before_insert = getattr(eviction, "before_insert", None)
        if capacity is not None:
            tell_capacity(eviction, capacity)
        self.admission = admission
        self.stats = stats
        self.used = 0
        self._entries: dict[Hashable, Entry] = {}

    def get(self, key: Hashable) -> Entry | None:
        return self._entries.get(key)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def admit(self, key: Hashable, entry: Entry) -> tuple[bool, list[Hashable]]:
        """Insert ``entry`` under ``key``, evicting as needed.

        An older entry of ``key`` is dropped first, whether or not the new one is admitted.
        Returns whether ``entry`` was admitted and the keys whose bytes must be released.
        """
        released = self.remove(key)
        size = entry.size
        fits = self.capacity is None or size <= self.capacity
        room_needed = self.capacity is not None and self.used + size > self.capacity
        victim = self.eviction.peek() if fits and room_needed else None
        if not fits or (
            size and not self.admission.admit(key, size, capacity=self.capacity, victim=victim)
        ):
            self.stats.admissions_refused += 1
            return False, released
        if self._before_insert is not None:
            self._before_insert(key, size)
        while self.capacity is not None and self.used + size > self.capacity:
            evicted = self.eviction.evict()
            self._forget(evicted)
            self.stats.evictions += 1
            released.append(evicted)
        self._entries[key] = entry
        self.used += size
        self.eviction.on_insert(key, size)
        return True, released

    def remove(self, key: Hashable) -> list[Hashable]:
        """Drop ``key`` if held (a write, delete or expiry), telling the eviction policy."""
        if key not in self._entries:
            return []
        self.eviction.on_remove(key)
        self._forget(key)
        return [key]

    def hit(self, key: Hashable) -> None:
        self.eviction.on_hit(key)

    def clear(self) -> None:
        self._entries.clear()
        self.eviction.clear()
        self.used = 0

    def _forget(self, key: Hashable) -> None:
        self.used -= self._entries.pop(key).size
