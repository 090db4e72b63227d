"""``advise``: every policy next to the bounds, and a recommendation by the stated rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from zarr_cachestore.cli import main
from zarr_cachestore.simulate import Trace
from zarr_cachestore.simulate.advise import advise
from zarr_cachestore.simulate.record import TraceRecorder
from zarr_cachestore.simulate.workloads import sliding_windows

# Ten unit-size objects read in a loop five times: everything fits at 10 bytes (10 misses);
# at 5 bytes LRU and FIFO miss every request.
LOOP = Trace.from_records([(k % 10, 1) for k in range(50)])


def test_recommends_the_smallest_budget_near_the_best() -> None:
    advice = advise(LOOP, [5, 8, 10], ["lru", "fifo"])
    assert {(r.policy, r.cache_size): r.misses for r in advice.results}[("lru", 5)] == 50
    assert advice.cache_size == 10  # 8 bytes still thrash; only 10 is within 10% of 10 misses
    assert advice.reached
    assert advice.policy == "lru"  # lru and fifo tie here; the first listed wins


def test_policy_closest_to_the_bound_on_average() -> None:
    trace = sliding_windows(seed=2)
    advice = advise(trace, [0.1, 0.3], ["lru", "fifo", "lfu", "frontier"])
    mean_gap = {p: advice.mean_gap(p) for p in ["lru", "fifo", "lfu", "frontier"]}
    assert advice.policy == min(mean_gap, key=mean_gap.__getitem__)
    for result in advice.results:
        bound = next(b for b in advice.bound if b.cache_size == result.cache_size)
        assert advice.gap(result) == result.misses / bound.misses - 1
        assert bound.misses <= result.misses


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one cache size"):
        advise(LOOP, [], ["lru"])
    with pytest.raises(ValueError, match="within"):
        advise(LOOP, [5], ["lru"], within=-1)


def test_cli_on_a_synthetic_workload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "mrc.png"
    argv = ["advise", "--synthetic", "windows", "--sizes", "10%,30%", "--no-progress"]
    assert main([*argv, "--policy", "lru", "--policy", "frontier", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines()[3:7]]
    assert sorted(names) == ["belady", "frontier", "lru", "pfoo-l"]
    assert "recommended eviction policy:" in out
    assert "recommended budget:" in out
    assert png.read_bytes().startswith(b"\x89PNG")


def test_cli_on_a_recorded_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trace.csv"
    trace = sliding_windows(20, seed=1)
    assert trace.names is not None
    with TraceRecorder(path) as recorder:
        for key, size in trace:
            recorder.record(str(trace.names[key]), size, hit=False)
    assert main(["advise", str(path), "--sizes", "4MiB", "--policy", "lru", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{len(trace)} requests" in out
    assert "4.0 MiB" in out
