"""Running a prefetch policy: what it asks for is read in the background, like any miss.

The policy is told of every read; it answers with keys (or byte ranges) to fetch. Each fetch
not already held or under way becomes a background task on the reader's event loop, at most
``limit`` at a time, and goes through the engine's own miss path: single flight, admission,
the budget, and the tickets that make a write or a clear discard an answer from before it.
The reader never waits for a prefetch. Grids are learned from the array metadata read through
the cache, which zarr reads before any chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import attrs
from zarr.core.buffer import default_buffer_prototype

from zarr_cachestore.grid import ChunkGrid, metadata_keys
from zarr_cachestore.prefetch import Access, Fetch, PrefetchPolicy

if TYPE_CHECKING:
    from zarr.abc.store import ByteRequest, Store
    from zarr.core.buffer import Buffer

    from zarr_cachestore.engine import CacheEngine

__all__ = ["Readahead"]

_METADATA = ("zarr.json", ".zarray")


@attrs.define
class Readahead:
    """The background fetches of one cache."""

    engine: CacheEngine
    policy: PrefetchPolicy
    limit: int
    grids: dict[str, ChunkGrid] = attrs.field(factory=dict)  # by array path
    unused: set[Hashable] = attrs.field(factory=set)  # prefetched entries not yet read
    running: set[asyncio.Task[Any]] = attrs.field(factory=set)

    def accessed(
        self, source: Store, key: str, request: ByteRequest | None, data: Buffer | None
    ) -> None:
        """``key`` was read (``data`` is the answer): learn, ask the policy, start fetches."""
        if data is not None and key.endswith(_METADATA):
            self._learn(key, data)
        engine = self.engine
        with engine.lock:
            try:
                fetches = list(self.policy.on_access(self._access(key, request)))
            except Exception as error:
                engine.faults.strategy(self.policy, error)
                return
            wanted = [fetch for fetch in fetches if not self._held(fetch)]
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # zarr's synchronous path: prefetching runs where an event loop does
        for fetch in wanted[: max(0, self.limit - len(self.running))]:
            task = engine.deferred.start(self._run(source, fetch))
            self.running.add(task)
            task.add_done_callback(self._finished)

    def hit(self, key: Hashable) -> None:
        """A prefetched entry was read. Under the lock."""
        if key in self.unused:
            self.unused.discard(key)
            self.engine.stats.prefetch_hits += 1

    def released(self, key: Hashable, size: int) -> None:
        """An entry left the cache. Under the lock."""
        if key in self.unused:
            self.unused.discard(key)
            self.engine.stats.prefetch_wasted_bytes += size

    def clear(self) -> None:
        """Forget what was prefetched and what the policy learned. Under the lock."""
        self.unused.clear()
        try:
            self.policy.clear()
        except Exception as error:
            self.engine.faults.strategy(self.policy, error)

    def cancel(self) -> None:
        """Stop every fetch under way (the store is closing)."""
        for task in list(self.running):
            task.get_loop().call_soon_threadsafe(task.cancel)

    def _access(self, key: str, request: ByteRequest | None) -> Access:
        for meta in metadata_keys(key):
            grid = self.grids.get(meta.rpartition("/")[0])
            if grid is not None:
                try:
                    return Access.of(key, grid, request)
                except ValueError:
                    continue
        return Access.of(key, None, request)

    def _learn(self, key: str, data: Buffer) -> None:
        path = key.rpartition("/")[0]
        with contextlib.suppress(ValueError):  # a group's, or metadata of no regular grid
            self.grids[path] = ChunkGrid.from_metadata(data.to_bytes(), path)

    def _held(self, fetch: Fetch) -> bool:
        engine = self.engine
        return fetch.key in engine.ledger or fetch.key in engine.flights

    async def _run(self, source: Store, fetch: Fetch) -> None:
        engine = self.engine
        with engine.lock:
            held_before = self._held(fetch)
        if held_before:
            return
        await engine.prefetch(source, fetch.key, default_buffer_prototype(), fetch.byte_range)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.running.discard(task)
        if not task.cancelled():
            task.exception()  # a failed prefetch costs nothing: the read will come
