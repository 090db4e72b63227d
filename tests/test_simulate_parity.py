"""Parity with libCacheSim: the same traces, the same cache sizes, the same miss counts.

LRU, FIFO and LFU are built in; SIEVE, CLOCK and ARC come from the ``zarr-cachestore-policies``
distribution and are skipped until it is installed. S3-FIFO, W-TinyLFU and GDSF are not required
to match; benchmarks/parity_table.py measures their differences for docs/simulator.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zarr_cachestore.registry import PluginError, load
from zarr_cachestore.simulate import Trace, loop, scan, simulate, write_oracle_general, zipf
from zarr_cachestore.simulate.reference import libcachesim_simulate

lcs = pytest.importorskip("libcachesim", reason="no libcachesim wheel for this Python")

TRACES = {
    "zipf": lambda: zipf(20_000, 2_000, 1.0, seed=11),
    "zipf-lognormal": lambda: zipf(20_000, 2_000, 0.8, seed=12, size=1000, size_dist="lognormal"),
    "scan": lambda: scan(20_000, 1_500, 1.1, scan_length=400, scan_every=2_000, seed=13),
    "loop": lambda: loop(12_000, 900, seed=14, size=1000, size_dist="lognormal", sigma=0.5),
}
SIZES = [0.01, 0.05, 0.2]
EXACT = ["lru", "fifo", "lfu", "sieve", "clock", "arc"]


def _need(name: str) -> None:
    try:
        load("eviction", name)
    except (ValueError, PluginError) as exc:
        pytest.skip(f"eviction policy {name!r} is not available (zarr-cachestore-policies): {exc}")


def _pairs(trace: Trace, name: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    ours = simulate(trace, name, SIZES)
    theirs = libcachesim_simulate(trace, [name], SIZES)
    pairs = zip(ours, theirs, strict=True)
    return [((a.misses, a.miss_bytes), (b.misses, b.miss_bytes)) for a, b in pairs]


@pytest.mark.parametrize("trace_name", sorted(TRACES))
@pytest.mark.parametrize("name", EXACT)
def test_same_misses_as_libcachesim(name: str, trace_name: str) -> None:
    _need(name)
    trace = TRACES[trace_name]()
    for ours, theirs in _pairs(trace, name):
        assert ours == theirs


@pytest.mark.parametrize("name", ["lru", "fifo", "lfu"])
def test_sizes_oversized_and_size_changes_as_libcachesim(name: str) -> None:
    # Sizes change between requests of an object, and some objects exceed the cache.
    records = [(k % 13, (k * 7919) % 700 + 1) for k in range(3000)]
    records += [(k % 29, 5000 if k % 5 == 0 else 50) for k in range(3000)]
    trace = Trace.from_records(records)
    ours = simulate(trace, name, [600, 2000, 4000])
    theirs = libcachesim_simulate(trace, [name], [600, 2000, 4000])
    assert [(r.misses, r.miss_bytes) for r in ours] == [(r.misses, r.miss_bytes) for r in theirs]


def test_lfu_breaks_ties_by_least_recent_use() -> None:
    # 2 slots: A B A B C -> C evicts A? Both have freq 2; A was used less recently -> A goes.
    # Then A misses (evicting C at freq 1), and B still hits.
    trace = Trace.from_records([(k, 1) for k in "ABABCAB"])
    (ours,) = simulate(trace, "lfu", [2])
    (theirs,) = libcachesim_simulate(trace, ["lfu"], [2])
    assert ours.misses == theirs.misses == 4


def test_libcachesim_reads_our_oracle_general(tmp_path: Path) -> None:
    trace = zipf(5000, 700, seed=21, size=500, size_dist="lognormal")
    path = tmp_path / "z.oracleGeneral"
    write_oracle_general(trace, path)
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    got = [(r.obj_id, r.obj_size) for r in reader]
    assert got == list(trace)
    ws = trace.working_set()
    assert tuple(reader.get_working_set_size()) == (ws.objects, ws.bytes)
    cache_size = int(0.1 * ws.bytes)
    miss_ratio, _ = lcs.LRU(cache_size).process_trace(reader)
    (ours,) = simulate(trace, "lru", [0.1])
    assert ours.misses == round(miss_ratio * len(trace))
