"""A thread that listens, on a Redis pub/sub channel, for the invalidations of one namespace of
the Redis tier, and wakes its process's cache to poll the invalidation log at once.

The channel only says *that* something changed; the log (``RedisTier.changes``) says what, and
says when it cannot. So a message that never arrives costs time, never correctness: the cache
still polls every ``shared_poll`` seconds. The thread also wakes the cache whenever news may
have been lost: when it subscribes (first, or again after losing its connection), and when it
loses its connection. A connection that falls silent (a peer gone without a word, a frozen
server) is found by a PING that gets no answer within ``heartbeat`` seconds.

The thread uses the synchronous client: it belongs to no event loop, so it serves a cache used
from any loop or thread.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from zarr_cachestore.redis_store import CONNECT_TIMEOUT, REPLY_TIMEOUT

__all__ = ["RedisWatch"]

_TICK = 0.2
"""Seconds the thread waits for a message at a time: how soon it sees that it should stop."""


class RedisWatch:
    """Call ``wake`` (from this watch's thread) after each message on ``channel`` of the
    server at ``url``, and whenever messages may have been missed, until :meth:`close`.

    A lost connection is made again after ``backoff[0]`` seconds; each attempt that fails
    doubles the wait, up to ``backoff[1]``.
    """

    def __init__(
        self,
        url: str,
        channel: str,
        wake: Callable[[], None],
        *,
        heartbeat: float = 5.0,
        backoff: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        self.url = url
        self.channel = channel
        self.heartbeat = heartbeat
        self.backoff = backoff
        self._wake = wake
        self._stop = threading.Event()
        self._subscribed = False  # the last connection got as far as its subscription
        self._thread = threading.Thread(
            target=self._run, name=f"zarr-cachestore watch {channel}", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        state = "closed" if self._stop.is_set() else "open"
        return f"RedisWatch({self.channel!r}, {state})"

    @property
    def alive(self) -> bool:
        """Whether the thread still runs."""
        return self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread and close its connection; wait up to ``timeout`` seconds for it
        (unless called from the thread itself). Closing again does nothing."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0  # connections in a row that failed before they subscribed
        while True:
            with contextlib.suppress(RedisError, OSError):  # down, restarting, out of reach
                self._listen()
            if self._stop.is_set():
                return
            self._wake()  # what happened while the connection was lost is unknown
            failures = 0 if self._subscribed else failures + 1
            if self._stop.wait(min(self.backoff[0] * 2**failures, self.backoff[1])):
                return

    def _listen(self) -> None:
        """Listen until stopped, or until the connection fails."""
        self._subscribed = False
        client = redis.Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), 0),  # this thread reconnects, and wakes the cache
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=REPLY_TIMEOUT,
        )
        pubsub = client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.channel)
            pinged: float | None = None  # when the unanswered PING was sent
            quiet_since = time.monotonic()
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=_TICK)
                now = time.monotonic()
                if message is None:
                    if pinged is None and now - quiet_since >= self.heartbeat:
                        pubsub.ping()
                        pinged = now
                    elif pinged is not None and now - pinged >= self.heartbeat:
                        raise ConnectionError(f"no answer to PING in {self.heartbeat} s")
                    continue
                quiet_since, pinged = now, None
                if message["type"] == "subscribe":
                    self._subscribed = True
                if message["type"] in ("subscribe", "message"):
                    self._wake()
        finally:
            pubsub.close()
            client.close()
