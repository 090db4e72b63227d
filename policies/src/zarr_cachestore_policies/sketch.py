"""A count-min sketch with 4-bit counters and periodic halving (the TinyLFU frequency filter)."""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["CountMinSketch"]

_MASK = (1 << 64) - 1
_SEEDS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)


class CountMinSketch:
    """Approximate access counts in ``depth`` rows of ``width`` saturating counters.

    After ``sample_size`` increments every counter is halved, so old popularity fades (the
    "reset" of Einziger et al., TinyLFU, ACM ToS 2017). Keys are hashed with :func:`hash`, so
    estimates of ``str`` keys vary between processes unless ``PYTHONHASHSEED`` is fixed.
    """

    def __init__(
        self, width: int = 4096, *, sample_size: int | None = None, max_count: int = 15
    ) -> None:
        if width < 1 or width & (width - 1):
            raise ValueError(f"width must be a power of two, got {width}")
        self.width = width
        self.sample_size = 10 * width if sample_size is None else sample_size
        self.max_count = max_count
        self.additions = 0
        self._shift = 64 - (width.bit_length() - 1)
        self._rows = [[0] * width for _ in _SEEDS]

    def _slots(self, key: Hashable) -> list[int]:
        h = hash(key) & _MASK
        if self._shift == 64:
            return [0] * len(_SEEDS)
        return [((h ^ (seed >> 7)) * seed & _MASK) >> self._shift for seed in _SEEDS]

    def estimate(self, key: Hashable) -> int:
        return min(row[i] for row, i in zip(self._rows, self._slots(key), strict=True))

    def increment(self, key: Hashable) -> bool:
        """Count one access of ``key``; return whether the sketch aged (halved) just now."""
        for row, i in zip(self._rows, self._slots(key), strict=True):
            if row[i] < self.max_count:
                row[i] += 1
        self.additions += 1
        if self.additions < self.sample_size:
            return False
        self._rows = [[count >> 1 for count in row] for row in self._rows]
        self.additions //= 2
        return True

    def clear(self) -> None:
        self._rows = [[0] * self.width for _ in _SEEDS]
        self.additions = 0
