"""A plugin policy registered by the fake distribution broken-policies."""

from zarr_cachestore import LRU


class Twin(LRU):
    origin = "a"
