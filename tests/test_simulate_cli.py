"""The ``zarr-cachestore`` command and its ``simulate`` subcommand."""

from __future__ import annotations

import argparse
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from zarr_cachestore.cli import _parser, cache_size, main
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


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line ``argv`` prints on stderr, after checking it exits with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("zarr-cachestore simulate: error: ")
    return lines[0]


def test_needs_a_trace(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(["simulate", "--sizes", "0.1"], capsys)
    assert "give a trace file or --synthetic" in line


def test_an_unknown_policy_is_a_usage_error_naming_the_available_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["simulate", "--synthetic", "zipf", "--policy", "lru", "--policy", "my-policy"]
    line = _usage_error(argv, capsys)
    assert "unknown eviction policy 'my-policy'" in line
    assert "lru" in line.partition("available:")[2]


def test_a_missing_trace_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.oracleGeneral"
    line = _usage_error(["simulate", str(missing), "--policy", "lru"], capsys)
    assert f"cannot read the trace file {str(missing)!r}: No such file or directory" in line


def test_an_unreadable_trace_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_error(["simulate", str(tmp_path), "--policy", "lru"], capsys)
    assert f"cannot read the trace file {str(tmp_path)!r}" in line


def test_a_malformed_trace_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("name,weight\na,1\n")
    line = _usage_error(["simulate", str(path), "--format", "csv"], capsys)
    assert "no key column" in line


def test_a_bad_size_is_a_usage_error_naming_the_accepted_forms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _usage_error(["simulate", "--synthetic", "zipf", "--sizes", "1%,lots"], capsys)
    assert "not a cache size: 'lots'" in line
    assert "'5%'" in line
    assert "'64MiB'" in line


def test_a_policy_class_that_does_not_import_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["simulate", "--synthetic", "zipf", "--policy-class", "zarr_cachestore:Nothing"]
    assert "--policy-class zarr_cachestore:Nothing" in _usage_error(argv, capsys)
    argv = ["simulate", "--synthetic", "zipf", "--policy-class", "no_such_module_here"]
    assert "needs MODULE:CLASS" in _usage_error(argv, capsys)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"zarr-cachestore {version('zarr-cachestore')}\n"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub for action in actions for name, sub in action.choices.items()}


def test_the_program_every_command_and_every_flag_are_described() -> None:
    parser = _parser()
    commands = _subparsers(parser)
    assert parser.description
    assert {"simulate", "advise"} <= set(commands)
    for name, command in commands.items():
        assert command.description, name
        undocumented = [
            action.dest
            for action in command._actions
            if not action.help or action.help == argparse.SUPPRESS
        ]
        assert undocumented == [], f"{name}: {undocumented}"


def test_help_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    flags = set(re.findall(r"(?m)^  (--[a-z-]+)", text))
    assert {"--format", "--size-dist", "--metric", "--sizes", "--policy"} <= flags


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0.05", 0.05),
        (" 5% ", 0.05),
        ("4096", 4096),
        ("64MiB", 64 << 20),
        ("2GiB", 2 << 30),
        ("2GB", 2 * 10**9),
        ("1.5KiB", 1536),
    ],
)
def test_cache_sizes_are_fractions_or_bytes(text: str, size: float) -> None:
    parsed = cache_size(text)
    assert parsed == size
    assert type(parsed) is type(size)


@pytest.mark.parametrize("text", ["lots", "", "-1", "0.3KiB", "5%%"])
def test_a_bad_cache_size_raises_an_argparse_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a cache size"):
        cache_size(text)
