"""The demo, end to end on a tiny array."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from zarr_cachestore import available
from zarr_cachestore.demo import NO_CACHE, QUICK, ensure_data, main, plan


def _table(output: str) -> dict[str, list[str]]:
    """The rows of the printed results table, by policy."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("policy"))
    rows: dict[str, list[str]] = {}
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        label, *cells = line.split()
        rows[label] = cells
    return rows


def _mtimes(folder: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def test_every_policy_is_compared_and_the_data_is_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quick", "--data-dir", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert "data: generated" in first
    rows = _table(first)
    assert set(rows) == {*available("eviction"), NO_CACHE}
    requests = {label: int(cells[2].replace(",", "")) for label, cells in rows.items()}
    cached = {label: count for label, count in requests.items() if label != NO_CACHE}
    assert all(count < requests[NO_CACHE] for count in cached.values()), requests

    last = first.splitlines()[-1]
    data = next(tmp_path.iterdir())
    assert last.startswith(f"the data stays in {data} (")
    assert f"remove it with `rm -r {tmp_path}`" in last

    written = _mtimes(tmp_path)
    assert main(["--quick", "--data-dir", str(tmp_path)]) == 0
    second = capsys.readouterr().out
    assert "data: reusing" in second
    assert _mtimes(tmp_path) == written
    assert set(_table(second)) == set(rows)


def test_an_unfinished_array_is_rebuilt(tmp_path: Path) -> None:
    settings = dataclasses.replace(QUICK, data_dir=tmp_path)
    path, built = ensure_data(settings)
    assert built
    (path / "zarr.json").write_text("{")  # as if writing had stopped halfway
    assert ensure_data(settings) == (path, True)
    assert ensure_data(settings) == (path, False)


def test_the_walk_is_seeded_and_overlaps_by_half() -> None:
    windows = plan(64, 40, seed=1)
    assert windows == plan(64, 40, seed=1)
    assert windows != plan(64, 40, seed=2)
    assert len(windows) == 40
    assert all(end - first == 8 and first >= 0 and end <= 64 for first, end in windows)
    assert windows[:4] == [(0, 8), (4, 12), (8, 16), (12, 20)]
    assert any(b[0] < a[0] for a, b in itertools.pairwise(windows))  # jumps back
