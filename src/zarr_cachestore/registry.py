"""Finding strategies by name: the built-ins first, then plugins registered as entry points.

A third-party package registers a policy in its ``pyproject.toml``::

    [project.entry-points."zarr_cachestore.eviction"]
    sieve = "my_package.policies:Sieve"

Plugins are loaded lazily, one name at a time; the scan of installed distributions is cached.
A name that two distributions register is ambiguous: ``"distribution:name"`` picks one.
"""

from __future__ import annotations

import functools
import inspect
import re
import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from zarr_cachestore.admission import AdmitAll, MaxSize
from zarr_cachestore.eviction import FIFO, LFU, LRU
from zarr_cachestore.expiry import TTI, TTL, NoExpiry
from zarr_cachestore.prefetch import Neighbors, NoPrefetch, PrefetchPolicy, Sequential
from zarr_cachestore.protocols import AdmissionPolicy, EvictionPolicy, ExpiryPolicy, RangeCache
from zarr_cachestore.ranges import InMemoryRangeCache

__all__ = ["GROUPS", "PluginError", "available", "load", "resolve"]

Group = Literal["eviction", "expiry", "admission", "range_cache", "prefetch"]

GROUPS: dict[Group, type[Any]] = {
    "eviction": EvictionPolicy,
    "expiry": ExpiryPolicy,
    "admission": AdmissionPolicy,
    "range_cache": RangeCache,
    "prefetch": PrefetchPolicy,
}

BUILTINS: dict[Group, dict[str, type[Any]]] = {
    "eviction": {"lru": LRU, "lfu": LFU, "fifo": FIFO},
    "expiry": {"none": NoExpiry, "ttl": TTL, "tti": TTI},
    "admission": {"max-size": MaxSize, "all": AdmitAll},
    "range_cache": {"memory": InMemoryRangeCache},
    "prefetch": {"none": NoPrefetch, "sequential": Sequential, "neighbors": Neighbors},
}


class PluginError(ImportError):
    """A plugin registered through an entry point could not be loaded."""


def _check_group(group: str) -> Group:
    if group not in GROUPS:
        raise ValueError(f"unknown strategy group {group!r}; the groups are {sorted(GROUPS)}")
    return group


def _distribution(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "?"


def _normalized(name: str) -> str:
    """A distribution name as packaging compares them: case and ``-_.`` runs do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _origin(ep: EntryPoint) -> str:
    dist = ep.dist
    where = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
    return f"{where} ({ep.value})"


@functools.cache
def _plugins(group: Group) -> dict[str, tuple[EntryPoint, ...]]:
    """Every entry point of ``group``, by name (the cached scan)."""
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=f"zarr_cachestore.{group}"):
        found.setdefault(ep.name, []).append(ep)
    return {name: tuple(eps) for name, eps in found.items()}


def _entry_point(group: Group, name: str) -> EntryPoint:
    dist_name, _, plain = name.rpartition(":")
    candidates = _plugins(group).get(plain, ())
    if dist_name:
        candidates = tuple(
            ep for ep in candidates if _normalized(_distribution(ep)) == _normalized(dist_name)
        )
    if not candidates:
        raise ValueError(
            f"unknown {group} policy {name!r}; available: {', '.join(sorted(available(group)))}"
        )
    if len(candidates) > 1:
        choices = ", ".join(f"'{_distribution(ep)}:{plain}'" for ep in candidates)
        warnings.warn(
            f"{group} policy {plain!r} is registered by several distributions; using "
            f"{_origin(candidates[0])}. Name one of {choices} to choose.",
            stacklevel=4,
        )
    return candidates[0]


def load(group: str, name: str) -> Any:
    """The object registered under ``name`` in ``group``: a built-in first, else a plugin."""
    checked = _check_group(group)
    builtin = BUILTINS[checked].get(name)
    if builtin is not None:
        return builtin
    ep = _entry_point(checked, name)
    try:
        return ep.load()
    except Exception as exc:
        raise PluginError(
            f"the {group} policy {name!r} from entry point {_origin(ep)} failed to load: {exc}"
        ) from exc


def available(group: str) -> dict[str, str]:
    """Names usable in ``group``, each with where it comes from (``"builtin"`` or a plugin).

    A plugin that fails to load is skipped with a warning; a plugin cannot shadow a built-in.
    """
    checked = _check_group(group)
    names = dict.fromkeys(BUILTINS[checked], "builtin")
    for name, eps in _plugins(checked).items():
        for ep in eps:
            label = name if len(eps) == 1 else f"{_distribution(ep)}:{name}"
            if name in names and names[name] == "builtin":
                warnings.warn(
                    f"{_origin(ep)} registers {group} policy {name!r}, which is a built-in name; "
                    "the built-in is used",
                    stacklevel=2,
                )
                continue
            try:
                ep.load()
            except Exception as exc:
                warnings.warn(
                    f"skipping {group} policy {name!r} from {_origin(ep)}: {exc}", stacklevel=2
                )
                continue
            names[label] = _origin(ep)
    return names


def _required(protocol: type[Any]) -> list[str]:
    return [
        name
        for name, member in vars(protocol).items()
        if inspect.isfunction(member) and (not name.startswith("_") or name == "__len__")
    ]


def resolve(group: str, spec: Any) -> Any:
    """Turn a name, a class or an instance into a checked strategy object of ``group``."""
    checked = _check_group(group)
    obj = load(checked, spec) if isinstance(spec, str) else spec
    if isinstance(obj, type):
        try:
            obj = obj()
        except TypeError as exc:
            raise TypeError(
                f"{group} policy {obj.__name__} cannot be built without arguments ({exc}); "
                f"pass an instance instead, e.g. {group}={obj.__name__}(...)"
            ) from exc
    protocol = GROUPS[checked]
    missing = [name for name in _required(protocol) if not callable(getattr(obj, name, None))]
    if missing:
        raise TypeError(
            f"{group} policy {obj!r} is not a {protocol.__name__}: it lacks "
            f"{', '.join(missing)}. Pass a name from {sorted(available(checked))}, "
            f"or an object implementing zarr_cachestore.{protocol.__name__}."
        )
    return obj
