"""Built-in admission policies."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

import attrs

__all__ = ["AdmitAll", "MaxSize"]


@attrs.frozen
class AdmitAll:
    """Admit every entry that can fit in the cache at all."""

    counts_access: ClassVar[bool] = False  # on_access does nothing: the cache may skip it

    def on_access(self, key: Hashable) -> None:
        pass

    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        return True


def _fraction(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"MaxSize.fraction must be in (0, 1], got {value!r}")


@attrs.frozen
class MaxSize(AdmitAll):
    """The max-size rule: refuse an entry larger than ``fraction`` of the cache's capacity.

    With the default ``fraction=1.0`` an entry larger than ``max_size`` is refused, and so never
    written to the cache store. A smaller fraction keeps one large value from flushing the cache.
    """

    fraction: float = attrs.field(default=1.0, validator=_fraction)

    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        return capacity is None or size <= capacity * self.fraction
