"""Trace readers, the oracleGeneral writer and the seeded synthetic generators."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from zarr_cachestore.simulate import (
    Trace,
    WorkingSet,
    loop,
    read_csv,
    read_oracle_general,
    read_trace,
    scan,
    write_oracle_general,
    zipf,
)
from zarr_cachestore.simulate.readers import next_access

RECORD = struct.Struct("<IQIq")


def _write_records(path: Path, records: list[tuple[int, int, int, int]]) -> None:
    path.write_bytes(b"".join(RECORD.pack(*r) for r in records))


def test_oracle_general_record_is_24_bytes() -> None:
    assert RECORD.size == 24


def test_read_oracle_general(tmp_path: Path) -> None:
    path = tmp_path / "t.oracleGeneral"
    _write_records(path, [(5, 2**40, 100, 2), (6, 7, 0, -1), (7, 2**40, 120, -1), (9, 3, 1, -1)])
    trace = read_oracle_general(path)
    assert list(trace) == [(2**40, 100), (2**40, 120), (3, 1)]  # the size-0 request skipped
    assert trace.timestamps is not None
    assert trace.timestamps.tolist() == [5, 7, 9]
    assert trace.working_set() == WorkingSet(2, 101)  # first size of each object
    assert len(read_oracle_general(path, skip_zero_size=False)) == 4
    assert len(read_oracle_general(path, limit=2)) == 1


def test_read_oracle_general_rejects_partial_records(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(b"\0" * 30)
    with pytest.raises(ValueError, match="24-byte"):
        read_oracle_general(path)


def test_write_then_read_oracle_general(tmp_path: Path) -> None:
    path = tmp_path / "w.oracleGeneral"
    write_oracle_general([(1, 10), (2, 20), (1, 10), (3, 5), (2, 20)], path)
    raw = path.read_bytes()
    assert len(raw) == 5 * 24
    records = [RECORD.unpack_from(raw, 24 * i) for i in range(5)]
    assert [(r[1], r[2], r[3]) for r in records] == [
        (0, 10, 2),
        (1, 20, 4),
        (0, 10, -1),
        (2, 5, -1),
        (1, 20, -1),
    ]
    assert list(read_oracle_general(path)) == [(0, 10), (1, 20), (0, 10), (2, 5), (1, 20)]


def test_next_access() -> None:
    assert next_access(np.array([4, 5, 4, 4, 6, 5])).tolist() == [2, 5, 3, -1, -1, -1]


def test_read_csv_with_aliases(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("Timestamp,obj_id,op,obj_size\n1,a,get,10\n2,b,get,20\n\n3,a,get,10\n")
    trace = read_csv(path)
    assert list(trace) == [(0, 10), (1, 20), (0, 10)]
    assert trace.timestamps is not None
    assert trace.timestamps.tolist() == [1, 2, 3]
    assert list(read_trace(path, "csv", limit=2)) == [(0, 10), (1, 20)]


def test_read_csv_without_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("key;size\nx;3\ny;4\n")
    trace = read_csv(path, delimiter=";")
    assert list(trace) == [(0, 3), (1, 4)]
    assert trace.timestamps is None


def test_read_csv_needs_a_size_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("key,length\nx,3\n")
    with pytest.raises(ValueError, match="no size column"):
        read_csv(path)


def test_read_trace_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown trace format"):
        read_trace(tmp_path / "x", "parquet")


def test_from_records_interns_keys() -> None:
    trace = Trace.from_records([("b", 1), ("a", 2), ("b", 1)])
    assert list(trace) == [(0, 1), (1, 2), (0, 1)]
    assert trace.total_bytes == 4


def test_trace_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="same length"):
        Trace(np.arange(3), np.ones(2, dtype=np.int64))


def _same(a: Trace, b: Trace) -> bool:
    return np.array_equal(a.keys, b.keys) and np.array_equal(a.sizes, b.sizes)


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: zipf(5000, 500, 0.9, seed=seed, size_dist="lognormal"),
        lambda seed: scan(5000, 500, scan_length=100, scan_every=900, seed=seed),
        lambda seed: loop(5000, 300, seed=seed, size_dist="lognormal"),
    ],
)
def test_generators_are_seeded(make: object) -> None:
    assert callable(make)
    assert _same(make(1), make(1))
    assert not _same(make(1), make(2))


def test_zipf_popularity_and_sizes() -> None:
    trace = zipf(50_000, 1000, 1.0, seed=3, size=100)
    counts = np.bincount(trace.keys)
    top = np.sort(counts)[::-1]
    assert top[0] > 5 * top[50] > 0  # skewed
    assert set(trace.sizes.tolist()) == {100}
    sized = zipf(50_000, 1000, 1.0, seed=3, size=1000, size_dist="lognormal", sigma=0.5)
    per_object = dict(iter(sized))
    assert all(s == per_object[k] for k, s in sized)  # one size per object
    assert 800 < np.mean(list(per_object.values())) < 1200


def test_scan_inserts_fresh_sequential_runs() -> None:
    trace = scan(2500, 100, scan_length=50, scan_every=200, seed=0)
    keys = trace.keys.tolist()
    assert keys[200:250] == list(range(100, 150))
    assert keys[450:500] == list(range(150, 200))
    assert max(keys[:200]) < 100


def test_loop_cycles() -> None:
    keys = loop(25, 10, seed=4).keys.tolist()
    assert keys[:10] == keys[10:20]
    assert sorted(keys[:10]) == list(range(10))
