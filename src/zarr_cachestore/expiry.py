"""Built-in expiry policies. Deadlines are readings of the store's clock; ``inf`` is never."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import ClassVar

import attrs

__all__ = ["TTI", "TTL", "NoExpiry"]


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool)) or not value > 0:
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be a positive number of seconds, "
            f"got {value!r}"
        )


@attrs.frozen
class NoExpiry:
    """Entries never expire."""

    reads_extend: ClassVar[bool] = False  # on_read keeps the deadline: the cache may skip it

    def on_write(self, key: Hashable, now: float) -> float:
        return math.inf

    def on_read(self, key: Hashable, now: float, deadline: float) -> float:
        return deadline


@attrs.frozen
class TTL:
    """Time to live: an entry expires ``seconds`` after it was written; reads do not extend it."""

    reads_extend: ClassVar[bool] = False

    seconds: float = attrs.field(validator=_positive)

    def on_write(self, key: Hashable, now: float) -> float:
        return now + self.seconds

    def on_read(self, key: Hashable, now: float, deadline: float) -> float:
        return deadline


@attrs.frozen
class TTI(TTL):
    """Time to idle: an entry expires ``seconds`` after it was last written or read."""

    reads_extend: ClassVar[bool] = True

    def on_read(self, key: Hashable, now: float, deadline: float) -> float:
        return now + self.seconds
