"""The four strategy interfaces a :class:`~zarr_cachestore.CacheStore` is assembled from.

Every strategy does bookkeeping only. The store owns the bytes, the ledger of what is held
(entry -> size, deadline) and the byte budget; a strategy is told what happens to entries and
answers one question when asked.

Entries are identified by hashable keys: a ``str`` store key for a whole value, and a
:class:`~zarr_cachestore.ranges.RangeKey` for a byte range of a value.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from zarr_cachestore.ranges import RangeKey

if TYPE_CHECKING:
    from zarr.core.buffer import Buffer

    from zarr_cachestore.ranges import Span

__all__ = [
    "AdmissionPolicy",
    "CapacityAware",
    "Demotable",
    "EvictionPolicy",
    "ExpiryPolicy",
    "InsertAware",
    "RangeCache",
    "store_key",
]


@runtime_checkable
class EvictionPolicy(Protocol):
    """Chooses which entry leaves when the budget needs room.

    The store guarantees that it calls :meth:`on_insert` only for keys the policy does not hold,
    and :meth:`on_hit` and :meth:`on_remove` only for keys it does hold.

    Two optional hooks are called when a policy defines them: :class:`CapacityAware` and
    :class:`InsertAware`. The simulator calls them the same way.

    A policy that raises never corrupts the cache: the store drops what the policy may have
    lost track of (all its entries, if it fails to evict or forget one), counts the error in
    ``cache_stats()["policy_errors"]`` and serves the read from the source; with
    ``CacheStore(..., strict=True)`` the exception is raised instead.
    """

    def on_insert(self, key: Hashable, size: int) -> None:
        """Start tracking ``key``, an entry of ``size`` bytes."""

    def on_hit(self, key: Hashable) -> None:
        """``key`` was read from the cache."""

    def on_remove(self, key: Hashable) -> None:
        """``key`` left the cache for a reason other than eviction (write, expiry, delete)."""

    def evict(self) -> Hashable:
        """Choose the next victim, stop tracking it and return it.

        Raises ``LookupError`` when no entry is tracked.
        """

    def peek(self) -> Hashable | None:
        """The key :meth:`evict` would return next, or ``None`` if empty or not cheaply known.

        Must not remove anything; an admission policy uses it to weigh a candidate.
        """

    def clear(self) -> None:
        """Forget every entry."""

    def __len__(self) -> int:
        """The number of entries tracked."""


@runtime_checkable
class CapacityAware(Protocol):
    """An optional eviction-policy hook: the byte budget, told once before any other call."""

    def set_capacity(self, capacity: int) -> None:
        """The cache holds at most ``capacity`` bytes."""


@runtime_checkable
class InsertAware(Protocol):
    """An optional eviction-policy hook, called when an entry has been admitted and before the
    evictions that make room for it (ARC adapts to ghost hits there)."""

    def before_insert(self, key: Hashable, size: int) -> None:
        """``key`` (``size`` bytes) is about to be inserted."""


@runtime_checkable
class Demotable(Protocol):
    """An optional eviction-policy hook: ``key`` was prefetched and not yet read, so it may
    go first. A policy without it keeps prefetched entries where it put them, as the built-ins
    do: a prefetched chunk is most often the very next one read, and put first in line it is
    evicted before its reader arrives."""

    def demote(self, key: Hashable) -> None:
        """Make ``key`` the next victim, as far as the policy's order allows."""


def store_key(entry: Hashable) -> str:
    """The store key an entry key belongs to: itself for a whole value, ``.key`` for a range.

    Policies that count by store key (frequency sketches) use it to weigh range entries.
    """
    return entry.key if isinstance(entry, RangeKey) else str(entry)


@runtime_checkable
class ExpiryPolicy(Protocol):
    """Gives entries a deadline (a ``clock()`` reading; ``math.inf`` means never).

    A policy whose :meth:`on_read` always returns the deadline it is given may say so with a
    class attribute ``reads_extend = False``; the cache then skips the call on hits.
    """

    def on_write(self, key: Hashable, now: float) -> float:
        """The deadline of ``key``, entering the cache at ``now``."""

    def on_read(self, key: Hashable, now: float, deadline: float) -> float:
        """The deadline of ``key`` after a hit at ``now``; return ``deadline`` to keep it."""


@runtime_checkable
class AdmissionPolicy(Protocol):
    """Decides whether a new entry may enter the cache.

    A policy whose :meth:`on_access` does nothing may say so with a class attribute
    ``counts_access = False``; the cache then skips the call on every read.
    """

    def on_access(self, key: Hashable) -> None:
        """``key`` was requested (hit or miss); frequency-based filters count here."""

    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        """Whether ``key`` (``size`` bytes) may enter a cache of ``capacity`` bytes.

        ``victim`` is the entry the eviction policy would remove first to make room, or ``None``
        when no room is needed or the policy cannot tell.
        """


@runtime_checkable
class RangeCache(Protocol):
    """A storage tier for the bytes of byte-range reads; unlike the policies, it holds bytes.

    The store registers every range entry in its ledger, under the :class:`RangeKey` that
    :meth:`put` returns, so range entries share the byte budget and the eviction policy with
    whole values. The range cache never evicts on its own: the store pops what the ledger lets
    go.
    """

    def lookup(self, key: str, span: Span) -> tuple[RangeKey, Buffer] | None:
        """A held entry that covers ``span`` of ``key``, with the requested bytes sliced out.

        ``span`` is the request as sent (``Span.of(request)``): a suffix or an offset is placed
        only by what an entry itself knows of the value's size.
        """

    def get(self, entry: RangeKey) -> Buffer | None:
        """The bytes of one held entry, or ``None``: the exact-request path of a hit."""

    def put(self, key: str, span: Span, data: Buffer, size: int | None = None) -> RangeKey:
        """Hold ``data``, the bytes of ``span`` of ``key``; return the entry's ledger key.

        ``size`` is the value's size when the read that returned ``data`` revealed it; only
        then may the entry answer requests that are placed from the end (suffixes, offsets).
        """

    def pop(self, entry: RangeKey) -> None:
        """Drop one entry (eviction or expiry); unknown entries are ignored."""

    def pop_key(self, key: str) -> list[RangeKey]:
        """Drop every entry of ``key`` (its value changed); return the entries dropped."""

    def clear(self) -> None:
        """Drop everything."""
