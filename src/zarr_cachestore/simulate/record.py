"""Recording a cache's accesses as a trace the simulator (and libCacheSim) can replay.

:meth:`TraceRecorder.record` is meant for a cache's hot path: it appends one tuple to a bounded
buffer and returns. A background thread drains the buffer and writes the file. When the buffer
is full the event is dropped and counted (:attr:`TraceRecorder.dropped`, and a warning at
:meth:`~TraceRecorder.close`): a trace with a gap is better than a cache that stalls on disk.

Three formats (see :mod:`zarr_cachestore.simulate.readers`):

* ``"zarr-csv"``: one row per request with the store key, byte range, size, hit, and the array
  and chunk coordinates the key names; read back by ``read_zarr_csv``.
* ``"csv"``: ``timestamp,obj_id,obj_size`` with dense integer ids, as libCacheSim's CSV reader
  takes it; read back by ``read_csv``.
* ``"oraclegeneral"``: libCacheSim's binary format. Each record needs the index of the object's
  next request, which is only known once the trace ends: records go to ``PATH.partial`` while
  recording, and :meth:`~TraceRecorder.close` computes the next-access indices (one sort of the
  ids, in memory: 24 bytes a request) and writes ``PATH``.

An entry is a store key, or a byte range of one (``RangeKey(key, start, stop)``); ids number
entries densely in order of first request, so the three formats of one run agree.
"""

from __future__ import annotations

import csv
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import IO, Literal, Protocol

import numpy as np

from zarr_cachestore.chunks import parse_chunk_key
from zarr_cachestore.ranges import RangeKey
from zarr_cachestore.simulate.readers import ORACLE_GENERAL, ZARR_CSV_COLUMNS, next_access

__all__ = ["FORMATS", "ByteRange", "TraceRecorder"]

ByteRange = tuple[int, int | None]
Format = Literal["zarr-csv", "csv", "oraclegeneral"]
FORMATS: tuple[Format, ...] = ("zarr-csv", "csv", "oraclegeneral")
PathLike = str | os.PathLike[str]

# One access as the hot path stores it: (time, key, byte range, size, hit).
Event = tuple[float, str, ByteRange | None, int, bool]


class _Sink(Protocol):
    def write(self, events: list[Event], start: float) -> None: ...

    def close(self) -> None: ...


def _entry(key: str, byte_range: ByteRange | None) -> Hashable:
    return key if byte_range is None else RangeKey(key, *byte_range)


class _Ids:
    """Dense ids of cache entries, in order of first request."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, int] = {}

    def __call__(self, key: str, byte_range: ByteRange | None) -> int:
        ids = self._ids
        return ids.setdefault(_entry(key, byte_range), len(ids))


class _ZarrCSV:
    def __init__(self, path: PathLike) -> None:
        self._file: IO[str] = open(path, "w", newline="")  # noqa: SIM115 (closed in close())
        self._rows = csv.writer(self._file)
        self._rows.writerow(ZARR_CSV_COLUMNS)
        self._chunks: dict[str, tuple[str, str]] = {}

    def _chunk(self, key: str) -> tuple[str, str]:
        found = self._chunks.get(key)
        if found is None:
            chunk = parse_chunk_key(key)
            found = ("", "") if chunk is None else (chunk.array, " ".join(map(str, chunk.coords)))
            self._chunks[key] = found
        return found

    def write(self, events: list[Event], start: float) -> None:
        rows = []
        for when, key, byte_range, size, hit in events:
            first, last = ("", "") if byte_range is None else byte_range
            stop = "" if last is None else last
            when_text = f"{when - start:.6f}"
            rows.append((when_text, key, first, stop, size, int(hit), *self._chunk(key)))
        self._rows.writerows(rows)

    def close(self) -> None:
        self._file.close()


class _CSV:
    def __init__(self, path: PathLike) -> None:
        self._file: IO[str] = open(path, "w", newline="")  # noqa: SIM115 (closed in close())
        self._rows = csv.writer(self._file)
        self._rows.writerow(("timestamp", "obj_id", "obj_size"))
        self._id = _Ids()

    def write(self, events: list[Event], start: float) -> None:
        self._rows.writerows(
            (f"{when - start:.6f}", self._id(key, byte_range), size)
            for when, key, byte_range, size, _ in events
        )

    def close(self) -> None:
        self._file.close()


class _OracleGeneral:
    """Records without next-access indices go to ``PATH.partial``; ``close`` completes them."""

    def __init__(self, path: PathLike) -> None:
        self._path = os.fspath(path)
        self._partial = self._path + ".partial"
        self._file = open(self._partial, "wb")  # noqa: SIM115 (closed in close())
        self._id = _Ids()

    def write(self, events: list[Event], start: float) -> None:
        records = np.zeros(len(events), dtype=ORACLE_GENERAL)
        records["clock_time"] = [max(int(when - start), 0) for when, *_ in events]
        records["obj_id"] = [self._id(key, byte_range) for _, key, byte_range, *_ in events]
        records["obj_size"] = [min(size, 0xFFFFFFFF) for *_, size, _ in events]
        records["next_access_vtime"] = -1
        records.tofile(self._file)

    def close(self) -> None:
        self._file.close()
        records = np.fromfile(self._partial, dtype=ORACLE_GENERAL)
        records["next_access_vtime"] = next_access(records["obj_id"])
        records.tofile(self._path)
        os.remove(self._partial)


_SINKS: dict[str, Callable[[PathLike], _Sink]] = {
    "zarr-csv": _ZarrCSV,
    "csv": _CSV,
    "oraclegeneral": _OracleGeneral,
}


class TraceRecorder:
    """Writes the accesses given to :meth:`record` to ``path`` in ``format`` (see the module).

    ``buffer`` bounds the events waiting for the writer thread, which wakes every ``interval``
    seconds. ``clock`` gives the time of an event recorded without one; times are written
    relative to the recorder's creation. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        path: PathLike,
        format: Format = "zarr-csv",
        *,
        buffer: int = 1 << 16,
        interval: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if format not in _SINKS:
            raise ValueError(f"unknown trace format {format!r}; use one of {', '.join(FORMATS)}")
        if buffer < 1:
            raise ValueError(f"buffer must hold at least one event, got {buffer!r}")
        self.path = os.fspath(path)
        self.format = format
        self._sink = _SINKS[format](path)
        self._pending: deque[Event] = deque()
        self._limit = buffer
        self._clock = clock
        self._start = clock()
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        self._interval = interval
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._run, name="trace-recorder", daemon=True)
        self._writer.start()

    def record(
        self,
        key: str,
        size: int,
        hit: bool,
        byte_range: ByteRange | None = None,
        now: float | None = None,
    ) -> None:
        """One access: ``size`` bytes of ``key`` (of ``byte_range`` if given), a hit or not.

        ``byte_range`` is ``(start, stop)``, or ``(-n, None)`` for the last ``n`` bytes; ``now``
        a reading of the recorder's clock (default: read it here).
        """
        if self._closed:
            raise ValueError("this TraceRecorder is closed")
        pending = self._pending
        if len(pending) < self._limit:
            pending.append((self._clock() if now is None else now, key, byte_range, size, hit))
        else:
            with self._drop_lock:
                self._dropped += 1

    @property
    def dropped(self) -> int:
        """Events dropped because the buffer was full."""
        return self._dropped

    def close(self) -> None:
        """Write every buffered event, finish the file, and stop the writer thread."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._writer.join()
        try:
            if self._error is None:
                self._drain()
        finally:
            self._sink.close()
        if self._error is not None:
            raise RuntimeError(f"writing the trace {self.path} failed") from self._error
        if self._dropped:
            warnings.warn(
                f"the trace {self.path} lacks {self._dropped} accesses: the recorder's buffer "
                f"({self._limit} events) was full; give TraceRecorder a larger buffer",
                stacklevel=2,
            )

    def __enter__(self) -> TraceRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _drain(self) -> None:
        pending, popleft = self._pending, self._pending.popleft
        while pending:
            batch = [popleft() for _ in range(min(len(pending), 8192))]
            self._sink.write(batch, self._start)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._drain()
            except BaseException as exc:  # reported by close()
                self._error = exc
                return
