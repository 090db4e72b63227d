"""The trace recorder: what it writes reads back through the simulator's readers."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pytest

from zarr_cachestore import RangeKey
from zarr_cachestore.simulate import read_csv, read_oracle_general, read_zarr_csv, simulate
from zarr_cachestore.simulate.readers import ORACLE_GENERAL
from zarr_cachestore.simulate.record import TraceRecorder

# (time, key, byte range, size, hit): whole chunks, a metadata key, a range and a suffix.
EVENTS = [
    (0.5, "t/c/0/0", None, 100, False),
    (1.0, "t/c/0/1", None, 120, False),
    (1.5, "t/zarr.json", None, 30, False),
    (2.0, "t/c/0/0", None, 100, True),
    (2.5, "s/c/1", (0, 64), 64, False),
    (3.0, "s/c/1", (-16, None), 16, False),
    (4.0, "s/c/1", (0, 64), 64, True),
    (5.5, "t/c/0/1", None, 120, True),
]
NAMES: list[Hashable] = ["t/c/0/0", "t/c/0/1", "t/zarr.json"]
NAMES += [RangeKey("s/c/1", 0, 64), RangeKey("s/c/1", -16, None)]
IDS = [0, 1, 2, 0, 3, 4, 3, 1]


def _record(path: Path, fmt: str) -> None:
    with TraceRecorder(path, fmt, clock=lambda: 0.0) as recorder:  # type: ignore[arg-type]
        for when, key, byte_range, size, hit in EVENTS:
            recorder.record(key, size, hit, byte_range, now=when)


def test_zarr_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _record(path, "zarr-csv")
    trace = read_zarr_csv(path)
    assert trace.keys.tolist() == IDS
    assert trace.sizes.tolist() == [e[3] for e in EVENTS]
    assert trace.timestamps is not None
    assert trace.timestamps.tolist() == [int(e[0]) for e in EVENTS]
    assert trace.names == NAMES
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,key,start,stop,size,hit,array,coords"
    assert lines[1] == "0.500000,t/c/0/0,,,100,0,t,0 0"
    assert lines[3] == "1.500000,t/zarr.json,,,30,0,,"
    assert lines[6] == "3.000000,s/c/1,-16,,16,0,s,1"
    assert lines[7] == "4.000000,s/c/1,0,64,64,1,s,1"


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _record(path, "csv")
    trace = read_csv(path)
    assert trace.keys.tolist() == IDS
    assert trace.sizes.tolist() == [e[3] for e in EVENTS]
    assert path.read_text().splitlines()[:2] == ["timestamp,obj_id,obj_size", "0.500000,0,100"]


def test_oracle_general_round_trip_with_next_access(tmp_path: Path) -> None:
    path = tmp_path / "t.oracleGeneral"
    _record(path, "oraclegeneral")
    assert not (tmp_path / "t.oracleGeneral.partial").exists()
    trace = read_oracle_general(path)
    assert trace.keys.tolist() == IDS
    assert trace.sizes.tolist() == [e[3] for e in EVENTS]
    assert trace.timestamps is not None
    assert trace.timestamps.tolist() == [0, 1, 1, 2, 2, 3, 4, 5]
    following = np.frombuffer(path.read_bytes(), dtype=ORACLE_GENERAL)["next_access_vtime"].tolist()
    assert following == [3, 7, -1, -1, 6, -1, -1, -1]


def test_formats_replay_alike(tmp_path: Path) -> None:
    # The same run in three formats gives the same misses; the zarr CSV replays store keys.
    for fmt in ("zarr-csv", "csv", "oraclegeneral"):
        _record(tmp_path / fmt, fmt)
    traces = [
        read_zarr_csv(tmp_path / "zarr-csv"),
        read_csv(tmp_path / "csv"),
        read_oracle_general(tmp_path / "oraclegeneral"),
    ]
    misses = {tuple(r.misses for r in simulate(t, ["lru", "fifo"], [150, 250])) for t in traces}
    assert len(misses) == 1


def test_full_buffer_drops_and_counts(tmp_path: Path) -> None:
    # The writer sleeps for a minute, so the buffer of 3 fills; close() still writes those 3.
    recorder = TraceRecorder(tmp_path / "t.csv", buffer=3, interval=60)
    for i in range(5):
        recorder.record(f"a/c/{i}", 1, False)
    assert recorder.dropped == 2
    with pytest.warns(UserWarning, match="lacks 2 accesses"):
        recorder.close()
    assert len(read_zarr_csv(tmp_path / "t.csv")) == 3


def test_record_after_close_is_refused(tmp_path: Path) -> None:
    recorder = TraceRecorder(tmp_path / "t.csv")
    recorder.close()
    with pytest.raises(ValueError, match="closed"):
        recorder.record("a/c/0", 1, False)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="zarr-csv, csv, oraclegeneral"):
        TraceRecorder(tmp_path / "t", "parquet")  # type: ignore[arg-type]


def test_many_threads_record_everything(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with TraceRecorder(path, "csv", interval=0.001) as recorder:

        def work(n: int) -> None:
            for i in range(2000):
                recorder.record(f"a/c/{n}/{i % 50}", 10, False)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert recorder.dropped == 0
    assert len(read_csv(path)) == 8000
