"""The HTTP range server behind ``benchmarks/tiers.py``: it answers as an object store would,
and counts every request and byte it serves, so the benchmark's request counts can be trusted."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from tiers import RangeServer  # type: ignore[import-not-found]

DATA = bytes(range(100))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    folder = tmp_path_factory.mktemp("served")
    (folder / "a").mkdir()
    (folder / "a" / "v").write_bytes(DATA)
    (folder / "secret").write_bytes(b"outside the root")
    with RangeServer(folder / "a", latency=0.0) as started:
        yield started


@pytest.fixture
def server(running: RangeServer) -> RangeServer:
    running.take_counts()  # each test counts from zero
    return running


def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


def test_a_whole_file(server: RangeServer) -> None:
    status, headers, body = fetch(server.url + "/v")
    assert (status, body, headers["Content-Length"]) == (200, DATA, "100")
    assert server.take_counts() == (1, 100)


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=10-19", 10, 20),
        ("bytes=90-", 90, 100),
        ("bytes=-5", 95, 100),
        ("bytes=95-200", 95, 100),
    ],
)
def test_a_byte_range(server: RangeServer, header: str, start: int, stop: int) -> None:
    status, headers, body = fetch(server.url + "/v", Range=header)
    assert (status, body) == (206, DATA[start:stop])
    assert headers["Content-Range"] == f"bytes {start}-{stop - 1}/100"
    assert server.take_counts() == (1, stop - start)


def test_head_gives_the_size_and_no_body(server: RangeServer) -> None:
    status, headers, body = fetch(server.url + "/v", method="HEAD")
    assert (status, headers["Content-Length"], body) == (200, "100", b"")
    assert server.take_counts() == (1, 0)


@pytest.mark.parametrize("path", ["/missing", "/../secret", "/"])
def test_what_is_not_a_file_under_the_root_is_missing_and_counted(
    server: RangeServer, path: str
) -> None:
    assert fetch(server.url + path)[0] == 404
    assert server.take_counts() == (1, 0)


def test_take_counts_starts_a_new_count(server: RangeServer) -> None:
    for _ in range(3):
        fetch(server.url + "/v", Range="bytes=0-9")
    assert server.take_counts() == (3, 30)
    assert server.take_counts() == (0, 0)
