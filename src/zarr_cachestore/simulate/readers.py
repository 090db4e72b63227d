"""Reading and writing traces: CSV, zarr CSV and libCacheSim's ``oracleGeneral`` binary format.

A zarr CSV (written by :class:`~zarr_cachestore.simulate.record.TraceRecorder`) names each
request's store key and byte range, so a replay hands policies the keys ``CacheStore`` would.

``oracleGeneral`` is a headerless sequence of 24-byte little-endian records::

    uint32 clock_time        request time in seconds
    uint64 obj_id
    uint32 obj_size          bytes
    int64  next_access_vtime index of the next request of obj_id, -1 if none
"""

from __future__ import annotations

import csv
import os
from array import array
from collections.abc import Hashable, Iterable

import numpy as np

from zarr_cachestore.simulate.trace import Trace

__all__ = [
    "CSV_COLUMNS",
    "ORACLE_GENERAL",
    "ZARR_CSV_COLUMNS",
    "read_csv",
    "read_oracle_general",
    "read_trace",
    "read_zarr_csv",
    "write_oracle_general",
]

ORACLE_GENERAL = np.dtype(
    [("clock_time", "<u4"), ("obj_id", "<u8"), ("obj_size", "<u4"), ("next_access_vtime", "<i8")]
)

#: Header names accepted for each CSV column (compared case-insensitively).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("key", "obj_id", "object_id", "id"),
    "size": ("size", "obj_size", "object_size", "bytes"),
    "timestamp": ("timestamp", "time", "clock_time", "ts"),
}

#: The columns of a zarr CSV, in the order the recorder writes them. ``start``/``stop`` are
#: the byte range (empty for a whole value; an empty ``stop`` with a negative ``start`` is a
#: suffix), ``hit`` whether the live cache answered it (1/0), ``array`` and ``coords`` (space
#: separated) what :func:`~zarr_cachestore.chunks.parse_chunk_key` reads from the key (empty
#: for a key that names no chunk).
ZARR_CSV_COLUMNS = ("timestamp", "key", "start", "stop", "size", "hit", "array", "coords")

PathLike = str | os.PathLike[str]


def _find_column(header: list[str], role: str) -> int | None:
    names = [name.strip().lower() for name in header]
    return next((names.index(a) for a in CSV_COLUMNS[role] if a in names), None)


def _column(header: list[str], role: str, path: PathLike) -> int:
    index = _find_column(header, role)
    if index is None:
        aliases = ", ".join(CSV_COLUMNS[role])
        raise ValueError(f"{path}: no {role} column; name it one of {aliases}")
    return index


def read_csv(path: PathLike, *, delimiter: str = ",", limit: int | None = None) -> Trace:
    """A trace from a CSV file with a header row naming its key and size columns.

    See :data:`CSV_COLUMNS` for the accepted names; a timestamp column is optional and other
    columns are ignored. Keys are strings, replaced by dense ids in order of first use.
    """
    ids: dict[Hashable, int] = {}
    keys, sizes, times = array("q"), array("q"), array("q")
    with open(path, newline="") as f:
        rows = csv.reader(f, delimiter=delimiter)
        header = next(rows, None)
        if header is None:
            raise ValueError(f"{path}: empty file")
        k, s = _column(header, "key", path), _column(header, "size", path)
        t = _find_column(header, "timestamp")
        for row in rows:
            if limit is not None and len(keys) >= limit:
                break
            if not row:
                continue
            keys.append(ids.setdefault(row[k].strip(), len(ids)))
            sizes.append(int(row[s]))
            if t is not None:
                times.append(int(float(row[t])))
    return Trace(
        np.frombuffer(keys, dtype=np.int64),
        np.frombuffer(sizes, dtype=np.int64),
        np.frombuffer(times, dtype=np.int64) if t is not None else None,
        name=os.fspath(path),
    )


def _int_or_none(text: str) -> int | None:
    return int(text) if text else None


def read_zarr_csv(path: PathLike, *, limit: int | None = None) -> Trace:
    """A trace from a zarr CSV (:data:`ZARR_CSV_COLUMNS`), with its cache keys as names.

    A request with a byte range is the entry ``RangeKey(key, start, stop)``, one without the
    store key itself: the keys a policy sees in ``CacheStore``. Ids are dense, in order of
    first use.
    """
    from zarr_cachestore.ranges import RangeKey

    ids: dict[Hashable, int] = {}
    keys, sizes, times = array("q"), array("q"), array("d")
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        missing = set(ZARR_CSV_COLUMNS) - set(rows.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path}: not a zarr CSV, it lacks the columns {sorted(missing)}; "
                "plain CSV traces are read with read_csv"
            )
        for row in rows:
            if limit is not None and len(keys) >= limit:
                break
            name: Hashable = row["key"]
            if row["start"]:
                name = RangeKey(row["key"], int(row["start"]), _int_or_none(row["stop"]))
            keys.append(ids.setdefault(name, len(ids)))
            sizes.append(int(row["size"]))
            times.append(float(row["timestamp"]))
    return Trace(
        np.frombuffer(keys, dtype=np.int64),
        np.frombuffer(sizes, dtype=np.int64),
        np.frombuffer(times, dtype=np.float64).astype(np.int64),
        name=os.fspath(path),
        names=list(ids),
    )


def read_oracle_general(
    path: PathLike, *, limit: int | None = None, skip_zero_size: bool = True
) -> Trace:
    """A trace from an uncompressed ``oracleGeneral`` file.

    Requests of size 0 are dropped unless ``skip_zero_size`` is false (libCacheSim's default).
    """
    length = os.path.getsize(path)
    if length % ORACLE_GENERAL.itemsize:
        raise ValueError(f"{path}: size {length} is not a multiple of 24-byte records")
    count = length // ORACLE_GENERAL.itemsize
    if limit is not None:
        count = min(count, limit)
    if count == 0:
        return Trace(np.zeros(0, np.uint64), np.zeros(0, np.int64), name=os.fspath(path))
    records: np.ndarray = np.memmap(path, dtype=ORACLE_GENERAL, mode="r", shape=(count,))
    if skip_zero_size:
        records = records[records["obj_size"] > 0]
    return Trace(
        np.array(records["obj_id"]),
        records["obj_size"].astype(np.int64),
        records["clock_time"].astype(np.int64),
        name=os.fspath(path),
    )


def read_trace(path: PathLike, fmt: str, *, limit: int | None = None) -> Trace:
    """Read ``path`` in format ``fmt`` (``"csv"``, ``"zarr-csv"`` or ``"oraclegeneral"``)."""
    plain = fmt.lower().replace("_", "").replace("-", "")
    if plain == "csv":
        return read_csv(path, limit=limit)
    if plain == "zarrcsv":
        return read_zarr_csv(path, limit=limit)
    if plain == "oraclegeneral":
        return read_oracle_general(path, limit=limit)
    raise ValueError(f"unknown trace format {fmt!r}; use 'csv', 'zarr-csv' or 'oraclegeneral'")


def next_access(keys: np.ndarray) -> np.ndarray:
    """For each request, the index of the next request of the same key, or -1."""
    order = np.lexsort((np.arange(keys.size), keys))
    following = np.full(keys.size, -1, dtype=np.int64)
    same = keys[order[1:]] == keys[order[:-1]]
    following[order[:-1][same]] = order[1:][same]
    return following


def write_oracle_general(trace: Trace | Iterable[tuple[Hashable, int]], path: PathLike) -> None:
    """Write ``trace`` as ``oracleGeneral``, with next-access indices filled in."""
    if not isinstance(trace, Trace):
        trace = Trace.from_records(trace)
    if len(trace) and (int(trace.keys.min()) < 0 or int(trace.sizes.max()) > 0xFFFFFFFF):
        raise ValueError("oracleGeneral needs keys >= 0 and sizes below 4 GiB")
    records = np.zeros(len(trace), dtype=ORACLE_GENERAL)
    records["obj_id"] = trace.keys
    records["obj_size"] = trace.sizes
    if trace.timestamps is not None:
        records["clock_time"] = trace.timestamps
    records["next_access_vtime"] = next_access(trace.keys)
    records.tofile(os.fspath(path))
