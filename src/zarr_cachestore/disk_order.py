"""Eviction orders a disk tier can keep in its index, where every process sees them.

A process's eviction policy keeps its order in memory; a shared tier cannot, since many
processes insert and read. It stores one number per entry instead, its *priority*, in an
indexed column; the entry of lowest priority (ties: the one whose priority was set first)
leaves first. An order is therefore a function of what the index records of an entry
(:class:`~zarr_cachestore.EntryInfo`: size, hits, inserted_at, last_access), the shared logical
clock and, for GDSF, the inflation value the index keeps. Orders that need state of their own
(SIEVE's hand, ARC's lists, a TinyLFU sketch) cannot be shared this way and are refused.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from zarr_cachestore.base import EntryInfo, PriorityPolicy

__all__ = ["SHARED_ORDERS", "SharedOrder", "shared_order"]


class SharedOrder(Protocol):
    """Computes an entry's priority when it is inserted and at every hit."""

    @property
    def name(self) -> str:
        """What the index records, so that every process orders by the same."""

    def priority(self, key: str, info: EntryInfo, inflation: float) -> float:
        """The priority of ``key`` now; ``info.last_access`` is the current logical time."""


@attrs.frozen
class LRUOrder:
    """Least recently used: the entry read or written longest ago leaves first."""

    name: str = "lru"

    def priority(self, key: str, info: EntryInfo, inflation: float) -> float:
        return info.last_access


@attrs.frozen
class FIFOOrder:
    """First in, first out: hits change nothing."""

    name: str = "fifo"

    def priority(self, key: str, info: EntryInfo, inflation: float) -> float:
        return info.inserted_at


@attrs.frozen
class LFUOrder:
    """Least frequently used; among equals the least recently used leaves first."""

    name: str = "lfu"

    def priority(self, key: str, info: EntryInfo, inflation: float) -> float:
        return info.hits + 1


@attrs.frozen
class GDSFOrder:
    """Greedy-Dual-Size-Frequency with cost 1: ``inflation + frequency / size``.

    The inflation value is the priority of the last victim, kept in the index.
    """

    name: str = "gdsf"

    def priority(self, key: str, info: EntryInfo, inflation: float) -> float:
        return inflation + (info.hits + 1) / max(info.size, 1)


@attrs.frozen
class PolicyOrder:
    """A :class:`~zarr_cachestore.PriorityPolicy` subclass's ``priority(key, info)``.

    Only the entry's :class:`EntryInfo` and the logical clock (``policy.time``) are shared
    between processes: a policy whose priority reads state of its own, or that keeps state in
    ``on_victim``, sees only what this process did.
    """

    policy: PriorityPolicy
    name: str

    def priority(self, key: str, info: EntryInfo, inflation: float) -> float:
        self.policy.time = info.last_access
        return float(self.policy.priority(key, info))


SHARED_ORDERS: dict[str, type[Any]] = {
    "lru": LRUOrder,
    "lfu": LFUOrder,
    "fifo": FIFOOrder,
    "gdsf": GDSFOrder,
}


def shared_order(policy: object) -> SharedOrder:
    """The order for ``policy``: a name in :data:`SHARED_ORDERS`, or a ``PriorityPolicy``
    subclass or instance. Anything else raises ``ValueError`` naming what is accepted."""
    if isinstance(policy, str) and policy.lower() in SHARED_ORDERS:
        order: SharedOrder = SHARED_ORDERS[policy.lower()]()
        return order
    if isinstance(policy, type) and issubclass(policy, PriorityPolicy):
        policy = policy()
    if isinstance(policy, PriorityPolicy):
        cls = type(policy)
        return PolicyOrder(policy, f"{cls.__module__}:{cls.__qualname__}")
    names = ", ".join(repr(name) for name in SHARED_ORDERS)
    raise ValueError(
        f"a shared tier cannot order its entries by {policy!r}: it keeps the order in its index, "
        f"so it accepts {names}, or a zarr_cachestore.PriorityPolicy subclass whose priority "
        "depends only on the entry's EntryInfo and the logical time"
    )
