"""The benchmark suite runs: each benchmark, at a tiny size, returns sane numbers.

Nothing here is timed against a target: speed is judged by the ratios ``make bench`` prints.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from benchmarks import profile_paths, suite
from benchmarks.harness import Row, table


def assert_sane(rows: list[Row]) -> None:
    """Rows exist, each a positive finite number, and they make a table of a line each."""
    assert rows
    for row in rows:
        assert math.isfinite(row.value), row
        assert row.value > 0, row
    assert table("title", rows).count("\n") >= len(rows) + 3


@pytest.mark.parametrize("name", sorted(set(suite.BENCHMARKS) - {"memory", "http"}))
def test_each_benchmark_returns_positive_finite_rows(name: str) -> None:
    assert_sane(suite.run(name, suite.Sizes.tiny()))


def test_memory_lists_every_installed_eviction_policy() -> None:
    rows = suite.run("memory", suite.Sizes.tiny())

    assert_sane(rows)
    measured = {row.name for row in rows}
    for name in ("lru", "lfu", "fifo", "sieve", "s3fifo", "arc", "clock", "wtinylfu", "gdsf"):
        assert f"ours, eviction={name!r}" in measured
    assert "zarr's CacheStore" in measured


def test_the_http_workload_caches_cut_source_requests() -> None:
    rows = suite.run("http", suite.Sizes.tiny())

    assert_sane(rows)
    requests = {row.name: int(row.detail.split(" requests")[0].replace(",", "")) for row in rows}
    assert requests["ours"] < requests["no cache"]
    assert requests["zarr's CacheStore"] < requests["no cache"]


def test_the_profiles_name_costs_that_are_shares_of_the_loop() -> None:
    found = profile_paths.profiles(keys=8, passes=300, count=5)

    assert set(found) == {"warm-cache hits", "misses (source answers at once)"}
    for costs in found.values():
        for ranked in costs.values():
            assert ranked
            assert all(0 < share <= 1 for _, share in ranked)


def test_saved_runs_print_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [Row("section", "a ratio", 0.5), Row("section", "a size", 12.0, unit="B", note="n")]
    for name in ("one", "two"):
        suite.save(str(tmp_path / f"{name}.json"), rows, label=name)

    suite.main(["--compare", str(tmp_path / "one.json"), str(tmp_path / "two.json")])

    printed = capsys.readouterr().out
    assert "| measurement | one | two |" in printed
    assert "| a ratio | 0.50x | 0.50x |" in printed
    assert "| a size | 12.0 B (n) | 12.0 B (n) |" in printed
