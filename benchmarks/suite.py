"""The benchmark suite: the cache against its anchors, as ratios measured side by side.

``python -m benchmarks.suite`` prints one markdown table for the zarr installed, then where the
time goes on the hit and miss paths. ``make bench`` runs it on every zarr line it finds and then
prints the lines side by side (``--save`` and ``--compare``).

Why hand-rolled timing loops rather than pytest-benchmark or asv: every number here is a ratio
of two ways measured in the same run, on a shared and noisy machine. Both tools time one
callable at a time, calibrating and repeating it before they move on to the next, so the two
sides of a ratio are measured minutes apart under whatever load each minute brought; asv
additionally compares across commits, which this suite does not need. Here the ways of one
comparison take turns within every round (:mod:`benchmarks.harness`), a round's ratio is taken
within the round, and the row reports the median over rounds. Counts (source requests, bytes
fetched, bytes per entry) are exact and need no statistics.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Awaitable, Callable

import attrs
import zarr

from benchmarks import array_read, hits, http_workload, memory, profile_paths
from benchmarks.harness import Row, comparison, table


@attrs.frozen
class Sizes:
    """How big each benchmark is; :meth:`tiny` is for the smoke test."""

    rounds: int = 15
    keys: int = 256
    value_bytes: int = 65536
    repeat: int = 50
    miss_keys: int = 2000
    scaling_small: int = 1000
    scaling_large: int = 1_000_000
    memory_entries: int = 100_000
    array_chunks: int = 10_000
    array_rounds: int = 5
    http: http_workload.Workload = attrs.field(factory=http_workload.Workload)
    http_latency: float = 0.003
    http_rounds: int = 2
    profile_keys: int = 256
    profile_passes: int = 400

    @classmethod
    def tiny(cls) -> Sizes:
        return cls(
            rounds=2,
            keys=8,
            value_bytes=8192,
            repeat=2,
            miss_keys=16,
            scaling_small=10,
            scaling_large=100,
            memory_entries=200,
            array_chunks=16,
            array_rounds=2,
            http=http_workload.Workload(side=64, chunk=32, window=32),
            http_latency=0.0,
            http_rounds=1,
            profile_keys=8,
            profile_passes=5,
        )


Benchmark = Callable[[Sizes], Awaitable[list[Row]]]

BENCHMARKS: dict[str, Benchmark] = {
    "whole-value hits": lambda s: hits.whole_value_hits(s.keys, s.value_bytes, s.rounds, s.repeat),
    "range hits": lambda s: hits.range_hits(s.keys, s.value_bytes, s.rounds, s.repeat),
    "miss overhead": lambda s: hits.miss_overhead(s.miss_keys, s.value_bytes, s.rounds),
    "logging": lambda s: hits.logging_cost(s.keys, s.value_bytes, s.rounds, s.repeat),
    "scaling": lambda s: hits.scaling(
        s.scaling_small, s.scaling_large, s.scaling_small, s.rounds, s.repeat
    ),
    "memory": lambda s: memory.bytes_per_entry(s.memory_entries, 16),
    "array read": lambda s: array_read.warm_array_reads(s.array_chunks, s.array_rounds),
    "http": lambda s: http_workload.http_workload(s.http, s.http_latency, s.http_rounds),
}


def run(name: str, sizes: Sizes) -> list[Row]:
    """Run one benchmark on a fresh event loop, zarr's experimental warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return asyncio.run(_awaited(BENCHMARKS[name](sizes)))


async def _awaited(rows: Awaitable[list[Row]]) -> list[Row]:
    return await rows


def header() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"zarr {zarr.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load}, {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def save(path: str, rows: list[Row], label: str | None = None) -> None:
    """Write ``rows`` under ``label`` (by default the zarr line they were measured on), for
    :func:`load`."""
    label = label or f"zarr {zarr.__version__}, Python {platform.python_version()}"
    with open(path, "w") as file:
        json.dump({"label": label, "rows": [attrs.asdict(row) for row in rows]}, file)


def load(path: str) -> tuple[str, list[Row]]:
    with open(path) as file:
        saved = json.load(file)
    return saved["label"], [Row(**row) for row in saved["rows"]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(BENCHMARKS), action="append", help="repeatable")
    parser.add_argument(
        "--rounds", type=int, default=attrs.fields(Sizes).rounds.default, help="interleaved rounds"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the profiles")
    parser.add_argument("--save", metavar="JSON", help="also write the rows to this file")
    parser.add_argument(
        "--compare", metavar="JSON", nargs="+", help="print saved runs side by side, and stop"
    )
    args = parser.parse_args(argv)
    if args.compare:
        print(comparison(dict(map(load, args.compare))))
        return
    sizes = attrs.evolve(Sizes(), rounds=args.rounds)
    start = time.perf_counter()
    rows: list[Row] = []
    for name in args.only or BENCHMARKS:
        began = time.perf_counter()
        rows += run(name, sizes)
        print(f"{name}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    print(table(f"### {header()}", rows))
    if args.save:
        save(args.save, rows)
    if not args.no_profile:
        found = profile_paths.profiles(sizes.profile_keys, sizes.profile_passes)
        print(profile_paths.report(found))
    print(f"\n(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
