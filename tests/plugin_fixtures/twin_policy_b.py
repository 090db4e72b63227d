"""A plugin policy registered under the same name by the fake distribution other-policies."""

from zarr_cachestore import FIFO


class Twin(FIFO):
    origin = "b"
