"""A recorded zarr workload, replayed by libCacheSim from its oracleGeneral file, misses as ours.

The recorder writes the same accesses as a zarr CSV (replayed with store keys, as CacheStore's
policies see them) and as oracleGeneral (read by libCacheSim's own trace reader).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zarr_cachestore.registry import PluginError, load
from zarr_cachestore.simulate import Trace, read_oracle_general, read_zarr_csv, simulate
from zarr_cachestore.simulate.bounds import belady
from zarr_cachestore.simulate.record import TraceRecorder
from zarr_cachestore.simulate.reference import libcachesim_cache
from zarr_cachestore.simulate.workloads import panning, sliding_windows

lcs = pytest.importorskip("libcachesim", reason="no libcachesim wheel for this Python")

EXACT = ["lru", "fifo", "lfu", "sieve", "clock", "arc"]
SIZES = [0.1, 0.3]


def _record(trace: Trace, tmp_path: Path) -> tuple[Path, Path]:
    assert trace.names is not None
    paths = tmp_path / "t.csv", tmp_path / "t.oracleGeneral"
    with (
        TraceRecorder(paths[0], "zarr-csv") as csv,
        TraceRecorder(paths[1], "oraclegeneral") as og,
    ):
        for when, (key, size) in enumerate(trace):
            for recorder in (csv, og):
                recorder.record(str(trace.names[key]), size, hit=False, now=when / 10)
    return paths


def _libcachesim_misses(path: Path, name: str, capacity: int) -> int:
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    cache = libcachesim_cache(name, capacity)
    return sum(not cache.get(request) for request in reader)


@pytest.fixture(
    scope="module",
    params=[
        lambda: sliding_windows(seed=3, size_dist="lognormal", chunk_size=4000),
        lambda: panning(120, seed=4, size_dist="lognormal", chunk_size=4000),
    ],
    ids=["windows", "panning"],
)
def recorded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    trace = request.param()
    return _record(trace, tmp_path_factory.mktemp("zarr"))


@pytest.mark.parametrize("name", EXACT)
def test_libcachesim_replays_the_recorded_file_alike(
    name: str, recorded: tuple[Path, Path]
) -> None:
    try:
        load("eviction", name)
    except (ValueError, PluginError) as exc:
        pytest.skip(f"eviction policy {name!r} is not available: {exc}")
    csv_path, og_path = recorded
    named, numbered = read_zarr_csv(csv_path), read_oracle_general(og_path)
    assert numbered.keys.tolist() == named.keys.tolist()
    ours = simulate(named, name, SIZES)  # the policies see store keys
    for result in ours:
        assert result.misses == _libcachesim_misses(og_path, name, result.cache_size)


def test_belady_as_libcachesim_with_the_recorded_next_accesses(recorded: tuple[Path, Path]) -> None:
    # libCacheSim's Belady reads the next-access indices the recorder computed at close.
    _, og_path = recorded
    for result in belady(read_oracle_general(og_path), SIZES):
        reader = lcs.TraceReader(str(og_path), lcs.TraceType.ORACLE_GENERAL_TRACE)
        cache = lcs.Belady(result.cache_size)
        assert result.misses == sum(not cache.get(request) for request in reader)
