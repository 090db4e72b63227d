"""The interface of a tier that many caches share: the processes of one host (a directory with
an index beside it) or of many hosts (a Redis server).

A shared tier keeps whole values by ``(namespace, key)``. Unlike a process's memory tier it is
not governed by one process's ledger: it keeps its own byte budget and eviction order, where
every process sees them, and it keeps a log of invalidations so that each process can drop what
its own memory tier holds of a value another process wrote.

Coherence rests on two rules every implementation keeps:

- a value read from the source is offered with the token :meth:`SharedTier.begin` gave before
  the read began; :meth:`SharedTier.put` refuses it if the key was invalidated since, so an
  answer from before a write never lands after it, whichever process wrote;
- a value whose length or checksum does not match its entry is never returned: it is dropped.

A process learns of other processes' writes by polling :meth:`SharedTier.changes`. A tier that
can also announce them (:class:`Watchable`) wakes the process to poll at once instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable

    from zarr.abc.store import ByteRequest

__all__ = ["SharedTier", "Watch", "Watchable"]


@runtime_checkable
class SharedTier(Protocol):
    """Whole values shared by many caches, under one budget that the tier itself enforces."""

    max_size: int

    async def begin(self, namespace: str, key: str) -> int:
        """A token for a source read of ``key`` about to begin."""

    async def get(
        self, namespace: str, key: str, request: ByteRequest | None = None
    ) -> bytes | None:
        """The value, or the bytes of ``request`` of it; ``None`` if not held, expired or
        damaged. A hit counts for the eviction order."""

    async def put(
        self, namespace: str, key: str, value: bytes, *, token: int, deadline: float | None
    ) -> bool:
        """Hold ``value`` until ``deadline`` (``time.time()`` seconds; ``None`` for never),
        evicting others to stay within budget. Refused (``False``) if ``key`` was invalidated
        since ``token`` was given, or if the value cannot fit."""

    async def invalidate(self, namespace: str, key: str) -> None:
        """Drop ``key`` (it was written or deleted at the source) and log it."""

    async def invalidate_prefix(self, namespace: str, prefix: str) -> None:
        """Drop every key that starts with ``prefix``, and log it (other caches then drop
        all they hold of the namespace: see :meth:`changes`)."""

    async def clear(self, namespace: str | None = None) -> None:
        """Drop every value of ``namespace`` (of every namespace when ``None``), and log it."""

    async def changes(self, namespace: str, cursor: int | None) -> tuple[int, list[str] | None]:
        """The keys of ``namespace`` invalidated since ``cursor``, and the cursor to ask with
        next. ``None`` for the keys when they cannot be listed: ``cursor`` is ``None``, the log
        no longer reaches back to it, or a prefix or the whole namespace was dropped since.
        The caller must then drop all it holds of the namespace."""

    async def info(self) -> dict[str, Any]:
        """The budget, the bytes and entries held, and the same per namespace."""

    async def aclose(self) -> None:
        """Release connections and files; the values stay."""


class Watch(Protocol):
    """What :meth:`Watchable.watch` returns."""

    def close(self) -> None:
        """Stop calling ``wake``, and release what the watch holds (its thread, its
        connection); closing again does nothing."""


@runtime_checkable
class Watchable(Protocol):
    """A shared tier that can tell a process at once that another process invalidated values.

    A watch carries no news itself: on waking, the process polls :meth:`SharedTier.changes`,
    which says what changed, or that it cannot say. Polling every ``shared_poll`` seconds
    stays the backstop for a wake-up that never came.
    """

    def watch(self, namespace: str, wake: Callable[[], None]) -> Watch:
        """Call ``wake`` (from any thread, quickly) soon after each invalidation of
        ``namespace``, and whenever the watch may have missed some (it connected, or lost its
        connection), until the watch is closed."""
