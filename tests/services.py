"""Real servers for the tests, on free loopback ports: a ``redis-server`` of its own.

``scripts/services.sh`` (run by ``make test``) installs ``redis-server``; where it is missing
the tests that need it skip, saying how to install it.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

INSTALL_HINT = (
    "redis-server is not installed: run scripts/services.sh as root, "
    "or apt-get install redis-server"
)


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` process on one loopback port, in a directory of its own, without
    persistence: stopped, killed or restarted, it comes back empty on the same port."""

    def __init__(self, executable: str, port: int, directory: Path) -> None:
        self.executable = executable
        self.port = port
        self.directory = directory
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        if self._process is not None:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        self._process = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"redis-server exited at start (port {self.port} taken?)")
            try:
                with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1) as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"redis-server did not answer on port {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server as an administrator would (SIGTERM), and wait for it."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it accepts connections but answers nothing."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Kill the server and start it again, empty, on the same port."""
        self.kill()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


def _executable() -> str:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip(INSTALL_HINT)
    return executable


@contextmanager
def running_redis(
    executable: str, end: Callable[[RedisServer], None] = RedisServer.stop
) -> Iterator[RedisServer]:
    """A started ``redis-server`` in a directory of its own, ended by ``end`` afterwards."""
    with tempfile.TemporaryDirectory(prefix="redis-") as directory:
        server = RedisServer(executable, free_port(), Path(directory))
        server.start()
        try:
            yield server
        finally:
            end(server)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One ``redis-server`` for the whole run."""
    with running_redis(_executable()) as server:
        yield server


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A ``redis-server`` for one test alone, which the test may kill and restart."""
    with running_redis(_executable(), RedisServer.kill) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_prefix(redis_server: RedisServer) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted after the test."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    with redis.Redis(host="127.0.0.1", port=redis_server.port) as client:
        names = list(client.scan_iter(match=prefix + "*", count=1000))
        if names:
            client.unlink(*names)
