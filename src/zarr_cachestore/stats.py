"""What a cache counts, and how it reports the failures it survives.

Everything is logged through ``logging.getLogger("zarr_cachestore")``. A failing cache store or
strategy never fails a read; it is counted, and warned about once per cause (with its
traceback), so a broken disk or policy is visible without flooding the log.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

__all__ = ["Faults", "Stats", "logger"]

logger = logging.getLogger("zarr_cachestore")


@attrs.define
class Stats:
    """Counters of one cache; ``as_dict`` adds the derived ratios."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0
    admissions_refused: int = 0
    coalesced: int = 0
    cache_errors: int = 0
    policy_errors: int = 0
    shared_hits: int = 0
    shared_errors: int = 0
    prefetched: int = 0
    prefetch_hits: int = 0
    prefetch_wasted_bytes: int = 0
    bytes_from_cache: int = 0
    bytes_from_source: int = 0

    def as_dict(self) -> dict[str, Any]:
        counts = attrs.asdict(self)
        total = self.hits + self.misses
        moved = self.bytes_from_cache + self.bytes_from_source
        return {
            **counts,
            "total_requests": total,
            "hit_rate": self.hits / total if total else 0.0,
            "byte_hit_rate": self.bytes_from_cache / moved if moved else 0.0,
        }


class Faults:
    """Counts the exceptions a cache survives and warns once per cause.

    With ``strict=True`` (for researchers debugging a policy) a strategy's exception is raised
    instead, once the cache has put its books back in order.
    """

    def __init__(self, stats: Stats, *, strict: bool = False) -> None:
        self.stats = stats
        self.strict = strict
        self._warned: set[object] = set()
        self._down = False  # a shared tier is failing

    def strategy(self, strategy: object, error: Exception) -> None:
        """``strategy`` raised ``error``; the entry involved has been dropped."""
        self.stats.policy_errors += 1
        if self.strict:
            raise error
        self._warn(
            ("strategy", id(strategy)),
            "%s raised %r; the entry involved was dropped and the read served from the source "
            "(%d strategy errors so far; strict=True raises instead)",
            type(strategy).__qualname__,
            error,
            self.stats.policy_errors,
            error=error,
        )

    def cache_store(self, error: BaseException | None, what: str) -> None:
        """The cache store failed to ``what`` (``error`` is ``None`` for a damaged value)."""
        self.stats.cache_errors += 1
        cause = ("cache store", what, type(error))
        self._warn(
            cause,
            "the cache store failed to %s (%r); served from the source (%d cache-store errors "
            "so far)",
            what,
            error,
            self.stats.cache_errors,
            error=error,
        )

    def outage(self, error: BaseException) -> None:
        """A shared tier failed; warned about once per outage, until :meth:`recovered`."""
        self.stats.cache_errors += 1
        self.stats.shared_errors += 1
        if not self._down:
            self._down = True
            logger.warning(
                "the shared cache tier failed (%r); reads go to the source until it answers "
                "again (%d shared-tier errors so far)",
                error,
                self.stats.shared_errors,
            )

    def recovered(self) -> None:
        """A shared tier answered again after an outage."""
        if self._down:
            self._down = False
            logger.warning(
                "the shared cache tier answers again (%d errors so far)", self.stats.shared_errors
            )

    def _warn(self, cause: object, message: str, *args: object, error: object) -> None:
        if cause in self._warned:
            return
        self._warned.add(cause)
        logger.warning(message, *args, exc_info=error if isinstance(error, Exception) else None)
