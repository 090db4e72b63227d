"""A policy-pluggable read cache for zarr v3 stores."""

import importlib
from typing import TYPE_CHECKING, Any

from zarr_cachestore.admission import AdmitAll, MaxSize
from zarr_cachestore.base import EntryInfo, PriorityPolicy
from zarr_cachestore.eviction import FIFO, LFU, LRU
from zarr_cachestore.expiry import TTI, TTL, NoExpiry
from zarr_cachestore.grid import ChunkGrid, metadata_keys
from zarr_cachestore.prefetch import (
    Access,
    ChunkPrefetcher,
    Fetch,
    Neighbors,
    NoPrefetch,
    PrefetchPolicy,
    Sequential,
)
from zarr_cachestore.protocols import (
    AdmissionPolicy,
    CapacityAware,
    EvictionPolicy,
    ExpiryPolicy,
    InsertAware,
    RangeCache,
    store_key,
)
from zarr_cachestore.ranges import InMemoryRangeCache, RangeKey, Span, WholeValuePromotion
from zarr_cachestore.registry import PluginError, available
from zarr_cachestore.store import CacheStore

if TYPE_CHECKING:
    from zarr_cachestore.redis_store import RedisStore, RedisUnavailable
    from zarr_cachestore.redis_tier import RedisTier

# Imported on first use: they need the optional ``redis`` extra.
_REDIS_NAMES = {
    "RedisStore": "redis_store",
    "RedisUnavailable": "redis_store",
    "RedisTier": "redis_tier",
}


def __getattr__(name: str) -> Any:
    module = _REDIS_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'zarr_cachestore' has no attribute {name!r}")
    return getattr(importlib.import_module(f"zarr_cachestore.{module}"), name)


__all__ = [
    "FIFO",
    "LFU",
    "LRU",
    "TTI",
    "TTL",
    "Access",
    "AdmissionPolicy",
    "AdmitAll",
    "CacheStore",
    "CapacityAware",
    "ChunkGrid",
    "ChunkPrefetcher",
    "EntryInfo",
    "EvictionPolicy",
    "ExpiryPolicy",
    "Fetch",
    "InMemoryRangeCache",
    "InsertAware",
    "MaxSize",
    "Neighbors",
    "NoExpiry",
    "NoPrefetch",
    "PluginError",
    "PrefetchPolicy",
    "PriorityPolicy",
    "RangeCache",
    "RangeKey",
    "RedisStore",
    "RedisTier",
    "RedisUnavailable",
    "Sequential",
    "Span",
    "WholeValuePromotion",
    "available",
    "metadata_keys",
    "store_key",
]
