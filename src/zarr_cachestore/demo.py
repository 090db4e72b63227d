"""Replay one realistic read pattern through every eviction policy, and without a cache.

Run ``python -m zarr_cachestore.demo --help`` for the options. The first run writes a local
zarr array (a few hundred MiB by default); later runs reuse it. A :class:`LatencyStore` in
front of it plays the part of an object store, so each cache miss costs a round trip.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
from zarr.abc.store import Store
from zarr.storage import LocalStore

from zarr_cachestore.latency import LatencyStore
from zarr_cachestore.registry import available
from zarr_cachestore.store import CacheStore

__all__ = ["main"]

MIB = 1 << 20
CHANNELS = 256  # columns of the series; a chunk spans all of them
ITEM = np.dtype("float32").itemsize
WINDOW_CHUNKS = 8  # chunks per window; consecutive windows share half of them
REVISIT_EVERY = 4  # forward steps between two jumps back
REVISIT_LENGTH = 3  # windows read at each jump back
HOTSPOTS = 4  # regions of interest that jumps back favour
MARKER = "zarr_cachestore_demo"  # attribute written once the data is complete
NO_CACHE = "no-cache"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything one demo run depends on."""

    array_mib: int = 256
    chunk_kib: int = 1024
    windows: int = 140
    latency_ms: float = 20.0
    bandwidth_mib: float = 200.0
    cache_mib: float | None = None  # None: a third of the array
    seed: int = 0
    data_dir: Path = Path("demo-data")
    record: Path | None = None  # where the first policy's run records its accesses

    @property
    def budget(self) -> int:
        """The cache budget in bytes."""
        mib = self.array_mib / 3 if self.cache_mib is None else self.cache_mib
        return int(mib * MIB)

    @property
    def array_path(self) -> Path:
        """Where the array of these settings lives."""
        return self.data_dir / f"series-{self.array_mib}mib-{self.chunk_kib}kib.zarr"


QUICK = Settings(array_mib=4, chunk_kib=64, windows=28, latency_ms=1.0)


@dataclasses.dataclass(frozen=True)
class Layout:
    """A (time, channel) float32 series chunked along time only."""

    rows: int
    chunk_rows: int

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        row_bytes = CHANNELS * ITEM
        return cls(settings.array_mib * MIB // row_bytes, settings.chunk_kib * 1024 // row_bytes)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, CHANNELS)

    @property
    def chunks(self) -> tuple[int, int]:
        return (self.chunk_rows, CHANNELS)

    @property
    def n_chunks(self) -> int:
        return -(-self.rows // self.chunk_rows)

    def describe(self) -> str:
        return f"{self.rows}x{CHANNELS} float32, {self.n_chunks} chunks of {self.chunks}"


@dataclasses.dataclass(frozen=True)
class Result:
    """What one pass over the windows measured."""

    label: str
    requests: int
    bytes_read: int
    seconds: float
    stats: dict[str, Any] | None  # cache_stats(), or None without a cache


# -- the data ------------------------------------------------------------------------------


def _is_complete(path: Path, layout: Layout) -> bool:
    """Whether ``path`` holds the finished array of ``layout``."""
    try:
        array = zarr.open_array(store=LocalStore(path, read_only=True), mode="r")
    except Exception:
        return False
    return (
        array.shape == layout.shape
        and array.chunks == layout.chunks
        and array.dtype == np.dtype("float32")
        and array.attrs.get(MARKER) == "complete"
    )


def _series(start: int, stop: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Rows ``start:stop`` of slow waves plus noise, one phase per channel."""
    t = np.arange(start, stop, dtype="float32")[:, None]
    phase = np.linspace(0, 2 * np.pi, CHANNELS, dtype="float32")
    noise = rng.standard_normal((stop - start, CHANNELS), dtype="float32")
    values: np.ndarray[Any, Any] = np.sin(t / 500 + phase) + 0.1 * noise
    return values


def _generate(path: Path, layout: Layout) -> None:
    """Write the array at ``path`` a few chunks at a time, with a progress bar."""
    shutil.rmtree(path, ignore_errors=True)
    array = zarr.create_array(
        store=LocalStore(path),
        shape=layout.shape,
        chunks=layout.chunks,
        dtype="float32",
        compressors=None,
        fill_value=0.0,
    )
    rng = np.random.default_rng(0)
    step = 16 * layout.chunk_rows
    total = layout.rows * CHANNELS * ITEM / MIB
    with tqdm(total=total, unit="MiB", desc="writing data", unit_scale=False) as bar:
        for start in range(0, layout.rows, step):
            stop = min(start + step, layout.rows)
            array[start:stop] = _series(start, stop, rng)
            bar.update((stop - start) * CHANNELS * ITEM / MIB)
    array.attrs.update({MARKER: "complete"})


def ensure_data(settings: Settings) -> tuple[Path, bool]:
    """The array's path, built unless a complete one is there; and whether it was built."""
    layout = Layout.of(settings)
    path = settings.array_path
    if _is_complete(path, layout):
        return path, False
    _generate(path, layout)
    return path, True


# -- the access pattern ----------------------------------------------------------------------


def plan(n_chunks: int, count: int, seed: int) -> list[tuple[int, int]]:
    """``count`` windows, as (first chunk, end chunk), of a walk through a time series.

    The walk moves forward half a window at a time, wrapping around at the end. Every
    ``REVISIT_EVERY`` steps it jumps back to a region already seen, mostly one of a few
    hotspots (some favoured more than others), and reads ``REVISIT_LENGTH`` windows there.
    """
    width = min(WINDOW_CHUNKS, n_chunks)
    step = max(width // 2, 1)
    starts = list(range(0, n_chunks - width + 1, step))
    rng = random.Random(seed)
    hot = rng.sample(range(len(starts)), k=min(HOTSPOTS, len(starts)))
    weights = [1 / (rank + 1) for rank in range(len(hot))]
    order: list[int] = []
    walk = seen = 0
    while len(order) < count:
        order.append(walk)
        seen = max(seen, walk)
        walk = (walk + 1) % len(starts)
        if len(order) % (REVISIT_EVERY + REVISIT_LENGTH) == REVISIT_EVERY:
            target = _jump(rng, hot, weights, seen)
            order += [min(target + i, len(starts) - 1) for i in range(REVISIT_LENGTH)]
    return [(starts[i], starts[i] + width) for i in order[:count]]


def _jump(rng: random.Random, hot: list[int], weights: list[float], seen: int) -> int:
    """Where a jump back lands: a hotspot already seen (most often), else anywhere seen."""
    known = [i for i, spot in enumerate(hot) if spot <= seen]
    if known and rng.random() < 0.8:
        return rng.choices([hot[i] for i in known], [weights[i] for i in known])[0]
    return rng.randint(0, seen)


# -- the runs --------------------------------------------------------------------------------


def _source(path: Path, settings: Settings) -> LatencyStore:
    """The local array behind simulated object-store latency, read-only."""
    return LatencyStore(
        LocalStore(path, read_only=True),
        latency=settings.latency_ms / 1000,
        bandwidth=settings.bandwidth_mib * MIB,
    )


def _read(label: str, store: Store, windows: Sequence[tuple[int, int]], chunk_rows: int) -> float:
    """Read every window through ``store``; the seconds it took."""
    begin = time.perf_counter()
    array = zarr.open_array(store=store, mode="r")
    for first, end in tqdm(windows, desc=f"{label:>10}", unit="win"):
        array[first * chunk_rows : end * chunk_rows]  # fetched and decoded, then dropped
    return time.perf_counter() - begin


def run(
    label: str,
    path: Path,
    settings: Settings,
    windows: Sequence[tuple[int, int]],
    *,
    record: Path | None = None,
) -> Result:
    """Read ``windows`` through a fresh cache with eviction ``label`` (or ``NO_CACHE``),
    recording its accesses to ``record`` if given."""
    source = _source(path, settings)
    cache = None
    if label != NO_CACHE:
        cache = CacheStore(source, max_size=settings.budget, eviction=label, record=record)
    store = source if cache is None else cache
    seconds = _read(label, store, windows, Layout.of(settings).chunk_rows)
    if cache is not None and record is not None:
        cache.stop_recording()
    stats = None if cache is None else cache.cache_stats()
    return Result(label, source.counts.requests, source.counts.bytes_read, seconds, stats)


# -- the report ------------------------------------------------------------------------------

HEADER = (
    "policy",
    "hit ratio",
    "byte hit ratio",
    "source requests",
    "fetched MiB",
    "wall s",
    "speedup",
)


def _row(result: Result, baseline: float) -> tuple[str, ...]:
    stats = result.stats
    return (
        result.label,
        "-" if stats is None else f"{stats['hit_rate']:.1%}",
        "-" if stats is None else f"{stats['byte_hit_rate']:.1%}",
        f"{result.requests:,}",
        f"{result.bytes_read / MIB:,.1f}",
        f"{result.seconds:.2f}",
        f"{baseline / result.seconds:.2f}x",
    )


def table(results: Sequence[Result]) -> str:
    """The results as an aligned text table; speedups are relative to the no-cache run."""
    baseline = next(r.seconds for r in results if r.label == NO_CACHE)
    rows = [HEADER, *(_row(result, baseline) for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    rule = "-" * len(line(HEADER))
    return "\n".join([line(HEADER), rule, *map(line, rows[1:])])


# -- the command line ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    d = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m zarr_cachestore.demo",
        description="Compare the installed eviction policies on one simulated workload.",
    )
    add = parser.add_argument
    add("--data-dir", type=Path, help=f"where the array lives (default: ./{d.data_dir})")
    add("--array-mib", type=int, help=f"size of the array in MiB (default: {d.array_mib})")
    add("--cache-mib", type=float, help="cache budget in MiB (default: a third of the array)")
    add("--windows", type=int, help=f"windows read per run (default: {d.windows})")
    add("--latency-ms", type=float, help=f"latency per request (default: {d.latency_ms:g})")
    add(
        "--bandwidth-mib",
        type=float,
        help=f"MiB/s of the one link all reads share (default: {d.bandwidth_mib:g})",
    )
    add("--seed", type=int, help=f"seed of the access pattern (default: {d.seed})")
    add("--quick", action="store_true", help="a tiny array and few windows, for tests")
    add(
        "--record",
        type=Path,
        help="record the first policy's reads as a trace for `zarr-cachestore advise` "
        "(every policy is asked the same reads)",
    )
    return parser


def _problem(settings: Settings) -> str | None:
    """What is wrong with ``settings``, if anything."""
    if min(settings.array_mib, settings.windows) < 1:
        return "--array-mib and --windows must be at least 1"
    if min(settings.latency_ms, settings.budget) < 0 or settings.bandwidth_mib <= 0:
        return "--latency-ms and --cache-mib cannot be negative, --bandwidth-mib must be positive"
    return None


def settings_from(argv: Sequence[str] | None) -> Settings:
    """Parse ``argv``; options given override the preset (``--quick`` or the defaults)."""
    parser = _parser()
    args = vars(parser.parse_args(argv))
    preset = QUICK if args.pop("quick") else Settings()
    settings = dataclasses.replace(preset, **{k: v for k, v in args.items() if v is not None})
    problem = _problem(settings)
    if problem is not None:
        parser.error(problem)
    return settings


def _disk_usage(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def where_the_data_is(path: Path, settings: Settings) -> str:
    """One line saying where the demo's data lies, how big it is, and how to remove it."""
    size = _disk_usage(path) / MIB
    return (
        f"the data stays in {path} ({size:,.1f} MiB) for the next run; "
        f"remove it with `rm -r {settings.data_dir}` (`make clean` removes the venvs too)"
    )


def _labels() -> Iterator[str]:
    yield from available("eviction")
    yield NO_CACHE


def main(argv: list[str] | None = None) -> int:
    """Run the demo; print the results table. Returns the exit status."""
    settings = settings_from(argv)
    start = time.perf_counter()
    path, built = ensure_data(settings)
    layout = Layout.of(settings)
    windows = plan(layout.n_chunks, settings.windows, settings.seed)
    status = f"generated in {time.perf_counter() - start:.1f} s:" if built else "reusing"
    print(f"data: {status} {path} ({layout.describe()})")
    print(
        f"workload: {len(windows)} windows of {WINDOW_CHUNKS} chunks, cache budget "
        f"{settings.budget / MIB:.1f} MiB, latency {settings.latency_ms:g} ms, "
        f"shared bandwidth {settings.bandwidth_mib:g} MiB/s, seed {settings.seed}"
    )
    labels = _labels()
    results = [
        run(label, path, settings, windows, record=settings.record if i == 0 else None)
        for i, label in enumerate(labels)
    ]
    print()
    print(table(results))
    print(f"\ntotal time {time.perf_counter() - start:.1f} s")
    print(where_the_data_is(path, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
