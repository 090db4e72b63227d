"""The ``zarr-cachestore simulate`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from zarr_cachestore.cli import main, parse_size
from zarr_cachestore.simulate import write_oracle_general, zipf


def test_synthetic_zipf_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "m.png"
    argv = ["simulate", "--synthetic", "zipf", "--requests", "5000", "--objects", "500"]
    argv += ["--seed", "3", "--policy", "lru", "--policy", "fifo", "--sizes", "0.05,0.2"]
    assert main([*argv, "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "5000 requests" in out
    assert "miss ratio" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("lru", "fifo"))]
    assert [(row[0], row[4]) for row in rows] == [
        ("lru", "5.00%"),
        ("lru", "20.00%"),
        ("fifo", "5.00%"),
        ("fifo", "20.00%"),
    ]
    assert all(0 < float(row[5]) < 1 for row in rows)
    assert png.read_bytes().startswith(b"\x89PNG")


def test_trace_file_all_policies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.oracleGeneral"
    write_oracle_general(zipf(2000, 100, seed=1, size=10), path)
    assert main(["simulate", str(path), "--sizes", "100", "--no-progress"]) == 0
    out = capsys.readouterr().out
    for name in ("lru", "lfu", "fifo"):
        assert any(line.startswith(name) for line in out.splitlines())


def test_csv_trace_and_policy_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.csv"
    path.write_text("key,size\n" + "".join(f"k{i % 7},5\n" for i in range(50)))
    argv = ["simulate", str(path), "--format", "csv", "--sizes", "20", "35"]
    assert main([*argv, "--policy-class", "zarr_cachestore.eviction:LRU"]) == 0
    out = capsys.readouterr().out
    assert "50 requests, 7 objects" in out
    assert sum(line.startswith("LRU") for line in out.splitlines()) == 2


def test_needs_a_trace() -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--sizes", "0.1"])


def test_parse_size() -> None:
    assert parse_size("0.05") == 0.05
    assert parse_size("5%") == 0.05
    assert parse_size("4096") == 4096
    assert parse_size("64MiB") == 64 << 20
    assert parse_size("2g") == 2 << 30
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size("lots")
