"""Research eviction and admission policies for zarr-cachestore."""

from zarr_cachestore_policies._common import Budget
from zarr_cachestore_policies.arc import ARC
from zarr_cachestore_policies.clock import Clock
from zarr_cachestore_policies.frontier import Frontier
from zarr_cachestore_policies.gdsf import GDSF
from zarr_cachestore_policies.s3fifo import S3FIFO, SizedS3FIFO
from zarr_cachestore_policies.sieve import Sieve
from zarr_cachestore_policies.sketch import CountMinSketch
from zarr_cachestore_policies.tinylfu import TinyLFU
from zarr_cachestore_policies.wtinylfu import SizedWTinyLFU, WTinyLFU

__all__ = [
    "ARC",
    "GDSF",
    "S3FIFO",
    "Budget",
    "Clock",
    "CountMinSketch",
    "Frontier",
    "Sieve",
    "SizedS3FIFO",
    "SizedWTinyLFU",
    "TinyLFU",
    "WTinyLFU",
]
