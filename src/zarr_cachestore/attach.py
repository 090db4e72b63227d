"""One cache per process: every copy of one ``CacheStore`` that arrives in a process (unpickled
there, as dask sends a store to each task) attaches to the same engine.

Copies find each other by the identity the original was given when it was built; a cache is
registered here when it is first copied. A process keeps a registered engine while any copy
uses it, and ``keep_alive`` seconds after the last copy was made or arrived; then the process
lets it go (copies still using it keep it; the next to arrive builds a new one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zarr_cachestore.engine import CacheEngine

__all__ = ["attached", "engines", "release"]

_lock = threading.Lock()
_engines: dict[str, tuple[CacheEngine, float]] = {}  # identity -> engine, kept until
_timer: threading.Timer | None = None  # wakes at the soonest time an engine may go
_timer_at = 0.0


def attached(identity: str, keep_alive: float, build: Callable[[], CacheEngine]) -> CacheEngine:
    """The engine of ``identity`` in this process, built by ``build`` if there is none."""
    now = time.monotonic()
    with _lock:
        _expire(now)
        found = _engines.get(identity)
        engine = build() if found is None else found[0]
        _engines[identity] = (engine, now + keep_alive)
        _schedule(keep_alive)
    return engine


def release(identity: str) -> None:
    """Let this process's cache of ``identity`` go now, as if its time had passed."""
    with _lock:
        _engines.pop(identity, None)


def engines() -> dict[str, CacheEngine]:
    """The engines this process keeps, by identity (for statistics)."""
    with _lock:
        return {identity: engine for identity, (engine, _) in _engines.items()}


def _expire(now: float) -> None:
    """Drop the engines kept past their time. Copies that still use one keep it alive; a copy
    arriving later builds a new one. Under the lock."""
    for identity in [i for i, (_, until) in _engines.items() if until <= now]:
        del _engines[identity]


def _schedule(delay: float) -> None:
    """Wake within ``delay`` seconds, unless already due sooner. Under the lock."""
    global _timer, _timer_at
    at = time.monotonic() + delay
    if _timer is not None and _timer.is_alive() and _timer_at <= at:
        return
    if _timer is not None:
        _timer.cancel()
    _timer, _timer_at = threading.Timer(delay + 0.01, _tick), at
    _timer.daemon = True
    _timer.start()


def _tick() -> None:
    global _timer
    with _lock:
        _timer = None
        _expire(time.monotonic())
        if _engines:
            soonest = min(until for _, until in _engines.values())
            _schedule(max(0.0, soonest - time.monotonic()))
