"""A persistent tier on local disk, shared safely by the processes of one host.

Values are files under ``path/values``; an SQLite index beside them (``path/index.sqlite3``, in
WAL mode) lists every entry with its namespace, key, size, CRC-32C, deadline and eviction
metadata, and keeps the byte budget, the shared logical clock and the invalidation log. See
``docs/disk.md`` for the guarantees and how they are kept.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from zarr_cachestore.disk_files import ValueFiles, boot_id, checksum
from zarr_cachestore.disk_index import DiskIndex, Entry, IndexUnreadable
from zarr_cachestore.disk_order import shared_order

if TYPE_CHECKING:
    from zarr.abc.store import ByteRequest

__all__ = ["DiskTier", "clear_directory", "describe_directory"]

INDEX_NAME = "index.sqlite3"
VALUES_DIR = "values"

_T = TypeVar("_T")
_LEASE = 600.0  # seconds after which a reservation is taken as abandoned, whatever its pid


class DiskTier:
    """Whole values in files under ``path``, within ``max_size`` bytes for all processes.

    ``policy`` orders evictions: ``"lru"``, ``"lfu"``, ``"fifo"``, ``"gdsf"``, or a
    :class:`~zarr_cachestore.PriorityPolicy` subclass whose priority depends only on the
    entry's :class:`~zarr_cachestore.EntryInfo` and the logical time. ``warm=False`` drops what
    the directory holds at open; by default a new process serves what earlier ones stored.
    Implements :class:`~zarr_cachestore.shared.SharedTier`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_size: int,
        policy: object = "lru",
        warm: bool = True,
        *,
        log_size: int = 10_000,
        sweep_interval: float = 600.0,
        busy_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(max_size, int) or max_size < 0:
            raise ValueError(f"max_size must be a number of bytes >= 0, got {max_size!r}")
        self.path = Path(path)
        self.max_size = max_size
        self.sweep_interval = sweep_interval
        self.clock = clock  # what deadlines are compared with: every process must agree
        self._order = shared_order(policy)
        self.path.mkdir(parents=True, exist_ok=True)
        self._boot = boot_id()
        self._files = ValueFiles(self.path / VALUES_DIR, fsync=self._boot is None)
        self._index = DiskIndex(
            self.path / INDEX_NAME,
            self._files.remove,
            self._order,
            busy_timeout=busy_timeout,
            log_size=log_size,
        )
        try:
            self._open(warm)
        except BaseException:
            self._index.close()  # its connections, to a file it could not use
            raise
        self._next_sweep = time.monotonic() + sweep_interval

    def _open(self, warm: bool) -> None:
        try:
            self._index.open(self.max_size, self._order.name, reset=not warm)
        except IndexUnreadable as error:
            if warm:
                raise IndexUnreadable(
                    f"{error}; open the tier with warm=False to start anew at {self.path}"
                ) from error
            self._index.close()  # the connections to the unreadable file
            for name in (INDEX_NAME, INDEX_NAME + "-wal", INDEX_NAME + "-shm"):
                (self.path / name).unlink(missing_ok=True)
            self._files.remove_all()
            self._index.open(self.max_size, self._order.name, reset=True)
        if not warm:
            self._index.clear(None)
        self.sweep()
        if self._boot is not None and self._index.checked_boot() != self._boot:
            self.verify()
            self._index.set_checked_boot(self._boot)

    # -- the SharedTier protocol

    async def begin(self, namespace: str, key: str) -> int:
        return self._index.token()  # one indexed read, without a lock: inline

    async def get(
        self, namespace: str, key: str, request: ByteRequest | None = None
    ) -> bytes | None:
        value = self.get_sync(namespace, key, request)  # no lock to wait for: run inline
        if self._index.hits_due():
            await self._run(self._index.flush_hits)
        return value

    async def put(
        self, namespace: str, key: str, value: bytes, *, token: int, deadline: float | None
    ) -> bool:
        return await self._run(self.put_sync, namespace, key, value, token, deadline)

    async def invalidate(self, namespace: str, key: str) -> None:
        await self._run(self._index.invalidate, namespace, key)

    async def invalidate_prefix(self, namespace: str, prefix: str) -> None:
        await self._run(self._index.invalidate_prefix, namespace, prefix)

    async def clear(self, namespace: str | None = None) -> None:
        await self._run(self._index.clear, namespace)

    async def changes(self, namespace: str, cursor: int | None) -> tuple[int, list[str] | None]:
        return await self._run(self._index.changes, namespace, cursor)

    async def info(self) -> dict[str, Any]:
        return await self._run(self.info_sync)

    async def aclose(self) -> None:
        self.close()

    # -- the same, synchronously

    def get_sync(
        self, namespace: str, key: str, request: ByteRequest | None = None
    ) -> bytes | None:
        """See :meth:`get`."""
        entry = self._index.lookup(namespace, key)
        if entry is None:
            return None
        if entry.deadline is not None and entry.deadline <= self.clock():
            self._index.drop(namespace, key, entry.file)
            return None
        start, stop = byte_span(request, entry.size)
        data = self._files.read(entry.file, start, stop, entry.size)
        whole = start == 0 and stop == entry.size
        if data is None or (whole and checksum(data) != entry.checksum):
            self._index.drop(namespace, key, entry.file)
            return None
        self._index.count_hit(namespace, key, entry.file)
        return data

    def put_sync(
        self, namespace: str, key: str, value: bytes, token: int, deadline: float | None
    ) -> bool:
        """See :meth:`put`."""
        now = self.clock()
        if len(value) > self.max_size or (deadline is not None and deadline <= now):
            return False
        entry = Entry(self._files.new_token(), len(value), checksum(value), deadline)
        if not self._index.reserve(namespace, key, entry.size, token, entry.file, now):
            return False
        try:
            self._files.write(entry.file, value)
        except BaseException as error:
            self._index.release(entry.file)
            if isinstance(error, OSError):  # e.g. the disk is full: the value is not kept
                return False
            raise
        listed = self._index.admit(namespace, key, entry, token, self._order)
        self._sweep_if_due()
        return listed

    def info_sync(self) -> dict[str, Any]:
        """See :meth:`info`."""
        return {"path": str(self.path), **self._index.stats()}

    def sweep(self) -> None:
        """Reconcile files and index: remove files no entry lists (left by a killed writer),
        drop entries whose file is gone and reservations of writers that died."""
        listing = [token for token, _ in self._files.listing()]
        self._index.sweep(listing, self._files.exists, _alive, time.time(), lease=_LEASE)

    def verify(self) -> None:
        """Read every value file whole and drop the entries whose size or checksum is wrong.
        Runs at the first open after the machine restarted: a crash of the machine, unlike a
        killed process, can lose file data written before it."""
        for namespace, key, entry in self._index.listing():
            data = self._files.read(entry.file, 0, entry.size, entry.size)
            if data is None or checksum(data) != entry.checksum:
                self._index.drop(namespace, key, entry.file)

    def close(self) -> None:
        """Write the hits not yet counted and close this process's connections; the values
        stay for the next process."""
        self._index.flush_hits()
        self._index.close()

    async def __aenter__(self) -> DiskTier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- helpers

    @staticmethod
    async def _run(function: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(function, *args)

    def _sweep_if_due(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self.sweep_interval
        if self._index.sweep_due(time.time(), self.sweep_interval):
            self.sweep()


def byte_span(request: ByteRequest | None, size: int) -> tuple[int, int]:
    """The ``start, stop`` offsets that ``request`` asks of a value of ``size`` bytes."""
    if request is None:
        return 0, size
    if isinstance(request, RangeByteRequest):
        if request.start < 0 or request.end < request.start:
            raise ValueError(f"not a byte range: {request!r}")
        return min(request.start, size), min(request.end, size)
    if isinstance(request, OffsetByteRequest):
        if request.offset < 0:
            raise ValueError(f"a byte offset cannot be negative: {request!r}")
        return min(request.offset, size), size
    if isinstance(request, SuffixByteRequest):
        if request.suffix < 0:
            raise ValueError(f"a byte suffix cannot be negative: {request!r}")
        return max(size - request.suffix, 0), size
    raise TypeError(
        f"not a byte request: {request!r}; pass a RangeByteRequest, OffsetByteRequest or "
        "SuffixByteRequest from zarr.abc.store"
    )


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def _index_of(path: str | os.PathLike[str]) -> DiskIndex:
    root = Path(path)
    if not (root / INDEX_NAME).is_file():
        raise FileNotFoundError(f"no disk tier at {root}: {root / INDEX_NAME} does not exist")
    return DiskIndex(root / INDEX_NAME, ValueFiles(root / VALUES_DIR).remove)


def describe_directory(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The :meth:`DiskTier.info` of the tier at ``path``, without opening it as a tier."""
    index = _index_of(path)
    try:
        return {"path": str(path), **index.stats()}
    finally:
        index.close()


def clear_directory(path: str | os.PathLike[str], namespace: str | None = None) -> None:
    """Drop what the tier at ``path`` holds (of ``namespace`` only, if given), and log it so
    that processes using the tier drop their copies too."""
    index = _index_of(path)
    try:
        index.clear(namespace)
    finally:
        index.close()
