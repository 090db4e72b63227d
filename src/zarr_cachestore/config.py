"""A cache's configuration: the constructor arguments, checked once, as given (names, classes
or objects for the strategies)."""

from __future__ import annotations

import copy
import operator
import time
import uuid
from collections.abc import Callable
from typing import Any, SupportsIndex

import attrs
from zarr.abc.store import Store

from zarr_cachestore.expiry import TTL
from zarr_cachestore.ranges import WholeValuePromotion
from zarr_cachestore.units import parse_size

__all__ = ["CacheConfig", "expiry_from_max_age", "flag"]

STRATEGIES = ("eviction", "expiry", "admission", "range_cache", "prefetch")


def _max_size(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = parse_size(value)
        except ValueError as error:
            raise ValueError(f"max_size: {error}") from None
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        raise TypeError(
            f"max_size must be a number of bytes, a size such as '512MiB', or None, got "
            f"{type(value).__name__} {value!r}; for example max_size=256 * 2**20"
        )
    value = operator.index(value)  # numpy integers too
    if value < 0:
        raise ValueError(
            f"max_size must be a non-negative number of bytes (or None for no limit), got {value}"
        )
    return value


def flag(name: str, value: object) -> bool:
    """A bool argument, refusing look-alikes (``"no"`` is not ``False``)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def expiry_from_max_age(max_age_seconds: float | str | None, expiry: Any) -> Any:
    """The expiry strategy, from zarr's ``max_age_seconds`` or ours (not both)."""
    if max_age_seconds is None or max_age_seconds == "infinity":
        return "none" if expiry is None else expiry
    if isinstance(max_age_seconds, str):
        raise ValueError(
            "max_age_seconds string value must be 'infinity'; for a time to live give a number "
            f"of seconds, got {max_age_seconds!r}"
        )
    if expiry is not None:
        raise ValueError(
            "give either max_age_seconds or expiry, not both: max_age_seconds=N is shorthand "
            f"for expiry=TTL(N), and expiry={expiry!r} was given too"
        )
    if isinstance(max_age_seconds, bool) or not max_age_seconds > 0:
        raise ValueError(
            f"max_age_seconds must be a positive number or 'infinity', got {max_age_seconds!r}"
        )
    return TTL(max_age_seconds)


def _promotion(value: object) -> WholeValuePromotion | None:
    if value is not None and not isinstance(value, WholeValuePromotion):
        raise TypeError(f"promotion must be None or WholeValuePromotion(threshold), got {value!r}")
    return value


def _clock(value: Callable[[], float]) -> Callable[[], float]:
    if not callable(value):
        raise TypeError(f"clock must be a callable returning seconds, got {value!r}")
    return value


def _prefetch_limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"prefetch_limit must be a positive number of fetches under way at once, got {value!r}"
        )
    return value


def _seconds(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{attribute.name} must be a number of seconds, at least 0, got {value!r}")


def _cache_store(value: object) -> Store | None:
    if value is not None and not isinstance(value, Store):
        raise TypeError(f"cache_store must be a zarr Store or None, got {type(value).__name__}")
    return value


@attrs.frozen(kw_only=True)
class CacheConfig:
    """Everything a cache is built from."""

    cache_store: Store | None = attrs.field(default=None, converter=_cache_store)
    max_size: int | None = attrs.field(default=None, converter=_max_size)
    eviction: Any = "lru"
    expiry: Any = "none"
    admission: Any = "max-size"
    range_cache: Any = "memory"
    clock: Callable[[], float] = attrs.field(default=time.monotonic, converter=_clock)
    cache_set_data: bool = True
    cache_missing: bool = False
    promotion: WholeValuePromotion | None = attrs.field(default=None, converter=_promotion)
    strict: bool = False
    prefetch: Any = "none"
    prefetch_limit: int = attrs.field(default=4, converter=_prefetch_limit)
    keep_alive: float = attrs.field(default=300.0, validator=_seconds)
    namespace: str | None = None
    memory_size: int | None = attrs.field(default=0, converter=_max_size)
    warm: bool = True
    shared_poll: float = attrs.field(default=0.5, validator=_seconds)
    identity: str = attrs.field(factory=lambda: uuid.uuid4().hex)  # shared by every copy

    def detached(self) -> CacheConfig:
        """This configuration with private, empty copies of any strategy objects in it."""
        copies = {}
        for name in STRATEGIES:
            spec = getattr(self, name)
            if not isinstance(spec, str | type):
                copies[name] = copy.deepcopy(spec)
                if hasattr(copies[name], "clear"):
                    copies[name].clear()
        return attrs.evolve(self, **copies)

    def renamed(self) -> CacheConfig:
        """This configuration for a cache of its own: detached, with a new identity."""
        return attrs.evolve(self.detached(), identity=uuid.uuid4().hex)
