"""The shared cache tiers against fsspec's caches and zarr's CacheStore, in one run.

A source reached over loopback: the HTTP range server of ``benchmarks.http_workload`` on
127.0.0.1, which waits a fixed latency before each answer and counts the requests and bytes it
serves, in front of a folder where this script first writes a zarr array (256 uncompressed
chunks of 64 KiB). Every way
reads it through zarr's ``FsspecStore`` over fsspec's HTTP filesystem, with the demo's
workload (``zarr_cachestore.demo.plan``: overlapping windows of 8 chunks with jumps back to
hotspots) and a budget of a third of the array where the way has one.

Each configuration runs in fresh processes (multiprocessing spawn), so a "warm" run is a
restart: nothing is left in memory, only what the cache left on disk or in Redis.

1. One process at a time: no cache; our memory tier; our disk tier cold (empty folder) and
   warm (a new process on the folder), at the budget and with room for the whole array (as
   fsspec's caches, which have no budget, keep it); zarr's ``CacheStore`` over a
   ``LocalStore``; fsspec's ``simplecache::`` and ``blockcache::`` (neither has a byte budget),
   cold and warm.
2. Two processes (different walks through the array): one disk folder for both, at the budget
   of one cache or of two, or a folder each; at once, or one second apart.
3. 1 and 4 processes against one real ``redis-server``: the Redis tier shared by all (at the
   budget of one cache, or of all four), or a memory cache in each process; at once, or one
   second apart.
4. The latency of a hit through ``CacheStore`` in the memory, disk and Redis tiers.

    python benchmarks/tiers.py [--latency-ms 20] [--windows 140]    # or python -m benchmarks.tiers

It starts its own ``redis-server`` (``apt-get install redis-server``) and stops everything it
started before it exits. The tables are markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import queue
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.storage import FsspecStore, LocalStore

from zarr_cachestore import CacheStore, RedisStore
from zarr_cachestore.demo import plan

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also run as a script
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from benchmarks.http_workload import RangeServer, serving
from benchmarks.redis_tier import redis_url

MIB = 1 << 20
CHUNK_BYTES = 64 * 1024
CHUNKS = 256
COLUMNS = 256  # float32 columns: a chunk is 64 rows of all of them
CHUNK_ROWS = CHUNK_BYTES // (4 * COLUMNS)
BUDGET = CHUNKS * CHUNK_BYTES // 3
ALL = 2 * CHUNKS * CHUNK_BYTES  # a budget that never evicts, as fsspec's caches have none
PROTO = default_buffer_prototype()


# -- the source ------------------------------------------------------------------------------


def write_array(folder: Path) -> None:
    """The array the server serves: 256 uncompressed chunks of 64 KiB along the rows."""
    array = zarr.create_array(
        store=LocalStore(folder),
        shape=(CHUNKS * CHUNK_ROWS, COLUMNS),
        chunks=(CHUNK_ROWS, COLUMNS),
        dtype="float32",
        compressors=None,
    )
    array[:] = np.random.default_rng(0).standard_normal(array.shape, dtype="float32")


# -- one process's run -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Job:
    """What one process reads, and through which cache."""

    way: str  # a key of OPENERS
    url: str  # the array's URL
    windows: int
    seed: int
    folder: str = ""  # the cache's folder, where it has one
    redis_url: str = ""
    prefix: str = ""
    budget: int = BUDGET
    delay: float = 0.0  # seconds after the common start before this process begins


def _fsspec_cache(kind: str) -> Callable[[Job], Store]:
    """``kind::URL`` opened as zarr documents it: ``FsspecStore.from_url``."""

    def open_store(job: Job) -> Store:
        options = {kind: {"cache_storage": job.folder}, "http": {"asynchronous": True}}
        return FsspecStore.from_url(f"{kind}::{job.url}", storage_options=options, read_only=True)

    return open_store


def _blockcache_wrapped(job: Job) -> Store:
    """``blockcache`` over a synchronous HTTP filesystem, made asynchronous by fsspec's wrapper:
    zarr then reads through its ``cat_file``, which goes through the cache (``from_url`` reads
    through the asynchronous ``_cat_file``, which blockcache hands to HTTP uncached). One read at
    a time: reads in threads at once break its metadata (a ``KeyError`` on closing a file)."""
    import fsspec  # type: ignore[import-untyped]
    from fsspec.implementations.asyn_wrapper import (  # type: ignore[import-untyped]
        AsyncFileSystemWrapper,
    )

    zarr.config.set({"async.concurrency": 1})  # its metadata is not safe from threads at once
    fs = fsspec.filesystem("blockcache", target_protocol="http", cache_storage=job.folder)
    return FsspecStore(AsyncFileSystemWrapper(fs, asynchronous=True), path=job.url, read_only=True)


def _zarr_cache_store(job: Job) -> Store:
    from zarr.experimental.cache_store import CacheStore as ZarrCacheStore

    return ZarrCacheStore(_source(job), cache_store=LocalStore(job.folder), max_size=job.budget)


def _source(job: Job) -> FsspecStore:
    return FsspecStore.from_url(job.url, read_only=True)


OPENERS: dict[str, Callable[[Job], Store]] = {
    "no cache": _source,
    "memory tier": lambda job: CacheStore(_source(job), max_size=job.budget),
    "disk tier": lambda job: CacheStore(
        _source(job), cache_store=LocalStore(job.folder), max_size=job.budget
    ),
    "Redis tier": lambda job: CacheStore(
        _source(job),
        cache_store=RedisStore(job.redis_url, prefix=job.prefix),
        max_size=job.budget,
    ),
    "zarr CacheStore + LocalStore": _zarr_cache_store,
    "fsspec simplecache": _fsspec_cache("simplecache"),
    "fsspec blockcache": _fsspec_cache("blockcache"),
    "fsspec blockcache, wrapped, 1 read at a time": _blockcache_wrapped,
}


def read_windows(job: Job, go: Any, results: Any) -> None:
    """In a fresh process: open the way, wait for ``go``, read every window; report seconds."""
    store = OPENERS[job.way](job)
    windows = plan(CHUNKS, job.windows, job.seed)
    go.wait()
    time.sleep(job.delay)
    start = time.perf_counter()
    array = zarr.open_array(store=store, mode="r")
    for first, end in windows:
        array[first * CHUNK_ROWS : end * CHUNK_ROWS]
    seconds = time.perf_counter() - start
    if isinstance(store, CacheStore):
        store.close()
    results.put(seconds)


@dataclasses.dataclass(frozen=True)
class Measured:
    requests: int
    bytes_read: int
    seconds: float  # the slowest process's, from its own start


def run(server: RangeServer, jobs: Sequence[Job]) -> Measured:
    """Run ``jobs`` at once, each in a new process; what the server saw and the wall time."""
    spawn = multiprocessing.get_context("spawn")
    go, results = spawn.Event(), spawn.Queue()
    procs = [spawn.Process(target=read_windows, args=(job, go, results)) for job in jobs]
    for proc in procs:
        proc.start()
    time.sleep(3.0)  # every process imports and opens its cache before the start
    server.reset()
    go.set()
    times: list[float] = []
    while len(times) < len(procs):
        try:
            times.append(results.get(timeout=1.0))
        except queue.Empty:
            if any(proc.exitcode not in (None, 0) for proc in procs):
                break
    for proc in procs:
        proc.join(60)
        if proc.exitcode != 0:
            raise RuntimeError(f"a {jobs[0].way} process failed (exit code {proc.exitcode})")
    seconds = max(times)
    served = server.reset()
    return Measured(served.requests, served.bytes_sent, seconds)


# -- the tables ------------------------------------------------------------------------------


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def mib(nbytes: float) -> str:
    return f"{nbytes / MIB:,.1f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def one_process(server: RangeServer, root: Path, args: argparse.Namespace) -> str:
    """Each way cold, then (where it keeps anything across a restart) warm in a new process."""
    base = Job("no cache", server.url + "/array.zarr", args.windows, seed=0)
    ways: list[tuple[str, int | None, bool]] = [
        ("no cache", BUDGET, False),
        ("memory tier", BUDGET, False),
        ("disk tier", BUDGET, True),
        ("disk tier", ALL, True),
        ("zarr CacheStore + LocalStore", BUDGET, True),
        ("fsspec simplecache", None, True),
        ("fsspec blockcache", None, True),
        ("fsspec blockcache, wrapped, 1 read at a time", None, True),
    ]
    rows, baseline = [], 0.0
    for n, (way, size, restarts) in enumerate(ways):
        folder = root / f"single-{n}"
        budget = "none" if size is None else "-" if way == "no cache" else mib(size)
        job = dataclasses.replace(base, way=way, folder=str(folder), budget=size or BUDGET)
        for label in ("cold", "warm (new process)") if restarts else ("cold",):
            measured = run(server, [job])
            baseline = baseline or measured.seconds
            held = mib(folder_bytes(folder)) if folder.exists() else "-"
            rows.append(
                [
                    way if label == "cold" else "",
                    label,
                    budget,
                    f"{measured.requests:,}",
                    mib(measured.bytes_read),
                    f"{measured.seconds:.2f}",
                    f"{baseline / measured.seconds:.2f}x",
                    held,
                ]
            )
            print(f"  {way}, {label}: {measured}", file=sys.stderr)
    header = ["way", "run", "budget MiB", "source requests", "MiB from source", "wall s",
              "speedup", "on disk after, MiB"]  # fmt: skip
    return table(header, rows)


def two_processes(server: RangeServer, root: Path, args: argparse.Namespace) -> str:
    """Two processes, each its own walk: one disk folder for both (at the budget of one, or of
    two), or one each; at once, or the second a second after the first."""
    base = Job("disk tier", server.url + "/array.zarr", args.windows, seed=0)
    shared = [dataclasses.replace(base, seed=s, folder=str(root / "two-shared")) for s in (0, 1)]
    apart = [dataclasses.replace(base, seed=s, folder=str(root / f"two-apart-{s}")) for s in (0, 1)]
    doubled = [
        dataclasses.replace(base, seed=s, folder=str(root / "two-doubled"), budget=2 * BUDGET)
        for s in (0, 1)
    ]
    later = [
        dataclasses.replace(base, seed=s, folder=str(root / "two-later"), delay=float(s))
        for s in (0, 1)
    ]
    rows = []
    for label, jobs in (
        ("one folder for both", shared),
        ("one folder for both, twice the budget", doubled),
        ("a folder each", apart),
        ("one folder for both, the second 1 s later", later),
    ):
        measured = run(server, jobs)
        rows.append([label, f"{measured.requests:,}", mib(measured.bytes_read),
                     f"{measured.seconds:.2f}"])  # fmt: skip
        print(f"  two processes, {label}: {measured}", file=sys.stderr)
    return table(["disk tier, 2 processes", "source requests", "MiB from source",
                  "wall s (slowest)"], rows)  # fmt: skip


def redis_processes(server: RangeServer, redis_url: str, args: argparse.Namespace) -> str:
    """1 and 4 processes at once: one Redis tier for all, or a memory cache in each."""
    base = Job("memory tier", server.url + "/array.zarr", args.windows, seed=0, redis_url=redis_url)
    configs = [  # processes, way, budget of each cache, seconds between the starts
        (1, "Redis tier", BUDGET, 0.0),
        (1, "memory tier", BUDGET, 0.0),
        (4, "Redis tier", BUDGET, 0.0),
        (4, "Redis tier", 4 * BUDGET, 0.0),
        (4, "memory tier", BUDGET, 0.0),
        (4, "Redis tier", BUDGET, 1.0),
        (4, "memory tier", BUDGET, 1.0),
    ]
    rows = []
    for i, (n, way, budget, stagger) in enumerate(configs):
        jobs = [
            dataclasses.replace(base, way=way, seed=s, prefix=f"tiers-{i}:", budget=budget,
                                delay=s * stagger)
            for s in range(n)
        ]  # fmt: skip
        measured = run(server, jobs)
        start = "at once" if stagger == 0 else f"{stagger:g} s apart"
        rows.append([str(n), start, way, mib(budget), f"{measured.requests:,}",
                     mib(measured.bytes_read), f"{measured.seconds:.2f}"])  # fmt: skip
        print(f"  {n} processes {start}, {way}, {mib(budget)}: {measured}", file=sys.stderr)
    return table(["processes", "start", "cache", "budget MiB (each cache)",
                  "source requests, all", "MiB from source", "wall s (slowest)"], rows)  # fmt: skip


# -- hit latency -----------------------------------------------------------------------------


async def per_hit(store: Store, keys: Sequence[str], width: int) -> float:
    """Microseconds per get of ``keys``, ``width`` at once (zarr reads a window's chunks so)."""
    start = time.perf_counter()
    for i in range(0, len(keys), width):
        got = await asyncio.gather(*(store.get(k, PROTO) for k in keys[i : i + width]))
        assert all(value is not None for value in got)
    return (time.perf_counter() - start) / len(keys) * 1e6


async def hit_latency(
    array_folder: Path, root: Path, redis_url: str, source_url: str, rounds: int
) -> str:
    """Warm hits of the same 64 chunks in each tier, round by round in turn."""
    keys = [f"c/{i}/0" for i in range(64)]
    caches = {
        "memory tier": CacheStore(LocalStore(array_folder, read_only=True), max_size=BUDGET),
        "disk tier": CacheStore(
            LocalStore(array_folder, read_only=True),
            cache_store=LocalStore(root / "latency-disk"),
            max_size=BUDGET,
        ),
        "Redis tier": CacheStore(
            LocalStore(array_folder, read_only=True),
            cache_store=RedisStore(redis_url, prefix="tiers-latency:"),
            max_size=BUDGET,
        ),
    }
    for cache in caches.values():
        await per_hit(cache, keys, 1)  # fill
        cache.cache_stats()  # fail here, not below, if a way cannot report
    times: dict[str, dict[int, list[float]]] = {name: {1: [], 8: []} for name in caches}
    for _ in range(rounds):
        for name, cache in caches.items():
            for width in (1, 8):
                times[name][width].append(await per_hit(cache, keys, width))
    for name, cache in caches.items():
        stats = cache.cache_stats()
        where = stats["shared_hits"] if name != "memory tier" else stats["hits"]
        assert where >= rounds * 2 * len(keys), f"{name}: hits were not served by the tier"
        cache.close()
    source = FsspecStore.from_url(source_url, read_only=True)
    miss = await per_hit(source, keys[:16], 1)
    rows = []
    memory = statistics.median(times["memory tier"][1])
    for name in caches:
        one, eight = (statistics.median(times[name][w]) for w in (1, 8))
        rows.append([name, f"{one:,.0f}", f"{one / memory:.1f}x", f"{eight:,.0f}"])
    rows.append(["(a source read over HTTP)", f"{miss:,.0f}", f"{miss / memory:.0f}x", "-"])
    return table(["hit of a warm 64 KiB chunk via CacheStore.get", "µs, one at a time",
                  "vs memory tier", "µs each, 8 at once"], rows)  # fmt: skip


def latency(server: RangeServer, root: Path, redis_url: str, rounds: int) -> str:
    folder, url = root / "data" / "array.zarr", server.url + "/array.zarr"
    return asyncio.run(hit_latency(folder, root, redis_url, url, rounds))


# -- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per request (20)")
    parser.add_argument("--windows", type=int, default=140, help="windows per process (140)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the hit latencies (5)")
    args = parser.parse_args()
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tiers-bench-") as directory:
        root = Path(directory)
        write_array(root / "data" / "array.zarr")
        with serving(root / "data", args.latency_ms / 1000) as server, redis_url(None) as url:
            print(
                f"{CHUNKS} chunks of {CHUNK_BYTES // 1024} KiB over HTTP on loopback, "
                f"{args.latency_ms:g} ms a request; {args.windows} windows of 8 chunks per "
                f"process; budget {mib(BUDGET)} MiB (a third)\n"
            )
            sections = [
                ("One process at a time", one_process(server, root, args)),
                ("Two processes", two_processes(server, root, args)),
                ("Processes on one redis-server", redis_processes(server, url, args)),
                ("Hit latency", latency(server, root, url, args.rounds)),
            ]
            for title, text in sections:
                print(f"### {title}\n\n{text}\n")
    print(f"total time {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
