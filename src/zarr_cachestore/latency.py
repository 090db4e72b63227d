"""A store that behaves like a remote object store: it counts requests and can add latency."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs
from zarr.abc.store import Store, SuffixByteRequest
from zarr.storage import WrapperStore

if TYPE_CHECKING:
    from zarr.abc.store import ByteRequest
    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["LatencyStore", "RequestCounts"]


@attrs.define
class RequestCounts:
    """Read requests that reached the store, and the bytes they returned."""

    requests: int = 0
    bytes_read: int = 0


@attrs.define
class _Link:
    """One network link that transfers take turns on."""

    free_at: float = 0.0

    def reserve(self, seconds: float) -> float:
        """Queue a transfer of ``seconds``; how long until it is done."""
        now = time.monotonic()
        self.free_at = max(now, self.free_at) + seconds
        return self.free_at - now


class LatencyStore(WrapperStore[Store]):
    """Wraps ``store``; every read waits ``latency`` seconds, and its bytes then cross one link
    of ``bandwidth`` bytes/s that all reads share (transfers queue on it), as when one machine
    downloads from an object store.

    A suffix longer than the value returns all of it, as object stores and zarr 3.2+ do (zarr
    3.1's MemoryStore returns too few bytes). Reads are counted in :attr:`counts` (one request
    per ``get``, whole or byte range), so tests can assert how many requests a cache let through.
    """

    def __init__(
        self, store: Store, *, latency: float = 0.0, bandwidth: float | None = None
    ) -> None:
        super().__init__(store)
        self.latency = latency
        self.bandwidth = bandwidth
        self.counts = RequestCounts()
        self._link = _Link()
        self._lock = threading.Lock()

    def _with_store(self, store: Store) -> LatencyStore:
        twin = LatencyStore(store, latency=self.latency, bandwidth=self.bandwidth)
        twin.counts, twin._link, twin._lock = self.counts, self._link, self._lock
        return twin

    @property
    def _supports_sync_io(self) -> bool:
        return False  # every read must pass through the counting, waiting ``get``

    def __getstate__(self) -> dict[str, object]:
        return {name: value for name, value in self.__dict__.items() if name != "_lock"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def reset_counts(self) -> RequestCounts:
        """Start counting afresh (in every view of this store); return the counts so far."""
        with self._lock:
            old = attrs.evolve(self.counts)
            self.counts.requests = self.counts.bytes_read = 0
        return old

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        if isinstance(byte_range, SuffixByteRequest):  # as object stores answer, on every zarr
            whole = await self._store.get(key, prototype)
            value = None if whole is None else whole[max(0, len(whole) - byte_range.suffix) :]
        else:
            value = await self._store.get(key, prototype, byte_range)
        size = len(value) if value is not None else 0
        with self._lock:
            self.counts.requests += 1
            self.counts.bytes_read += size
            transfer = self._link.reserve(size / self.bandwidth) if self.bandwidth else 0.0
        delay = self.latency + transfer
        if delay:
            await asyncio.sleep(delay)
        return value

    async def getsize(self, key: str) -> int:
        """One request that returns no bytes, as an object store's HEAD."""
        size = await self._store.getsize(key)
        with self._lock:
            self.counts.requests += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        return size

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))

    _get_many = Store._get_many  # zarr's default: one counted get at a time
    if hasattr(Store, "get_ranges"):
        get_ranges = Store.get_ranges  # coalesce over our own counted get

    def __repr__(self) -> str:
        return f"LatencyStore({self._store!r}, latency={self.latency})"
