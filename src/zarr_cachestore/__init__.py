"""A policy-pluggable read cache for zarr v3 stores."""

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
    "Sequential",
    "Span",
    "WholeValuePromotion",
    "available",
    "metadata_keys",
    "store_key",
]
