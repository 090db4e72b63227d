"""An end-to-end workload against a real HTTP range server on loopback.

The benchmark writes a chunked array to a temporary directory with zarr, serves it from a
threaded ``http.server`` on a free 127.0.0.1 port (byte ranges supported, a fixed latency per
request, every request and body byte counted), and reads a sliding window down the array and
back up through zarr's ``FsspecStore`` (fsspec's HTTP filesystem): with no cache, through our
``CacheStore`` and zarr's ``CacheStore`` at the same byte budget (and ours with none), and
through fsspec's ``simplecache::`` and ``blockcache::`` (on local disk; they take no byte
budget). ``FsspecStore`` reads with ``cat_file``, which ``blockcache::`` passes through to the
source uncached (it caches only files opened with ``open``); the row shows it.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt
import zarr
from zarr.abc.store import Store
from zarr.storage import FsspecStore

from benchmarks.harness import Row, median_ratio
from benchmarks.stores import UNBOUNDED, our_cache, zarr_cache

SECTION = "HTTP range server on loopback, sliding window down and back up"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@attrs.define
class Served:
    """What the server answered: requests and body bytes."""

    requests: int = 0
    bytes_sent: int = 0


class RangeServer(ThreadingHTTPServer):
    """Serves the files under ``root`` with GET (byte ranges too) and HEAD, after waiting
    ``latency`` seconds per request, as a remote object store would."""

    daemon_threads = True

    def __init__(self, root: Path, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root, self.latency = root.resolve(), latency
        self.served, self.lock = Served(), threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, body_bytes: int) -> None:
        with self.lock:
            self.served.requests += 1
            self.served.bytes_sent += body_bytes

    def reset(self) -> Served:
        with self.lock:
            old, self.served = self.served, Served()
        return old


class _Handler(BaseHTTPRequestHandler):
    server: RangeServer
    protocol_version = "HTTP/1.1"  # keep-alive, as clients of object stores use

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        time.sleep(self.server.latency)
        path = (self.server.root / self.path.lstrip("/").split("?")[0]).resolve()
        if not path.is_file() or self.server.root not in path.parents:
            self.server.count(0)
            self._send(HTTPStatus.NOT_FOUND, b"", {}, body)
            return
        data = path.read_bytes()
        span = self._span(len(data))
        if span is None:
            self.server.count(0)
            headers = {"Content-Range": f"bytes */{len(data)}"}
            self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", headers, body)
            return
        start, stop = span
        headers = {"Accept-Ranges": "bytes"}
        status = HTTPStatus.OK
        if "Range" in self.headers:
            status = HTTPStatus.PARTIAL_CONTENT
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
        self.server.count(stop - start if body else 0)
        self._send(status, data[start:stop], headers, body)

    def _span(self, size: int) -> tuple[int, int] | None:
        """The bytes asked for, ``[start, stop)``; ``None`` if the range cannot be served."""
        header = self.headers.get("Range")
        if header is None:
            return 0, size
        match = _RANGE.match(header.strip())
        if match is None or match.groups() == ("", ""):
            return None
        first, last = match.groups()
        if first == "":  # a suffix
            return max(0, size - int(last)), size
        start, stop = int(first), size if last == "" else min(size, int(last) + 1)
        return (start, stop) if start < size and start < stop else None

    def _send(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the benchmark prints its own table


@contextmanager
def serving(root: Path, latency: float) -> Iterator[RangeServer]:
    """A started :class:`RangeServer`, shut down on exit."""
    server = RangeServer(root, latency)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@attrs.frozen
class Workload:
    """A 2-d int32 array of uncompressed chunks, read by windows of ``window`` rows."""

    side: int = 512
    chunk: int = 32
    window: int = 128

    def write(self, path: Path) -> npt.NDArray[np.int32]:
        data = np.arange(self.side * self.side, dtype="int32").reshape(self.side, self.side)
        array = zarr.create_array(
            str(path),
            shape=data.shape,
            chunks=(self.chunk, self.chunk),
            dtype="int32",
            compressors=None,
        )
        array[:] = data
        return data

    def windows(self) -> list[slice]:
        """Down the array one chunk row at a time, then back up."""
        down = [
            slice(row, row + self.window)
            for row in range(0, self.side - self.window + 1, self.chunk)
        ]
        return down + down[-2::-1]

    @property
    def budget(self) -> int:
        """Room for two windows of chunks (and the metadata): half the array."""
        return 2 * self.window * self.side * 4 + 4096


def fsspec_store(url: str) -> Store:
    """zarr's ``FsspecStore`` over fsspec's HTTP filesystem."""
    return FsspecStore.from_url(url, read_only=True)


def fsspec_cached_store(url: str, cache: str, cache_dir: str) -> Store:
    """``FsspecStore`` over fsspec's ``cache`` filesystem (``simplecache``, ``blockcache``)
    keeping its files in ``cache_dir``, in front of the HTTP filesystem."""
    layers = {cache: {"cache_storage": cache_dir}, "http": {"asynchronous": True}}
    return FsspecStore.from_url(f"{cache}::{url}", read_only=True, storage_options=layers)


async def http_workload(workload: Workload, latency: float, rounds: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = workload.write(root / "array.zarr")
        with serving(root, latency) as server:
            url = f"{server.url}/array.zarr"
            ways: dict[str, Callable[[str], Store]] = {
                "no cache": lambda _: fsspec_store(url),
                "ours": lambda _: our_cache(fsspec_store(url), workload.budget),
                "ours, no budget": lambda _: our_cache(fsspec_store(url), UNBOUNDED),
                "zarr's CacheStore": lambda _: zarr_cache(fsspec_store(url), workload.budget),
                "fsspec simplecache:: (disk, unbounded)": lambda d: fsspec_cached_store(
                    url, "simplecache", d
                ),
                "fsspec blockcache:: (disk, unbounded)": lambda d: fsspec_cached_store(
                    url, "blockcache", d
                ),
            }
            walls: dict[str, list[float]] = {way: [] for way in ways}
            served: dict[str, Served] = {}
            for index in range(rounds):
                order = list(ways) if index % 2 == 0 else list(reversed(ways))
                for way in order:
                    with tempfile.TemporaryDirectory(dir=tmp) as cache_dir:
                        store = ways[way](cache_dir)
                        server.reset()
                        start = time.perf_counter()
                        array = zarr.open_array(store, mode="r")
                        for rows in workload.windows():
                            if not np.array_equal(array[rows], data[rows]):
                                raise AssertionError(f"{way}: wrong data in rows {rows}")
                        walls[way].append(time.perf_counter() - start)
                        served[way] = server.reset()
    title = (
        f"{SECTION} ({workload.side}x{workload.side} int32, chunks {workload.chunk}x"
        f"{workload.chunk}, {len(workload.windows())} windows of {workload.window} rows, "
        f"{latency * 1e3:g} ms a request, budget {workload.budget:,} B; wall time / no cache's)"
    )
    return [
        Row(
            title,
            way,
            median_ratio(walls[way], walls["no cache"]),
            detail=(
                f"{served[way].requests:,} requests, {served[way].bytes_sent:,} B, "
                f"{statistics.median(walls[way]):.2f} s"
            ),
        )
        for way in ways
    ]
