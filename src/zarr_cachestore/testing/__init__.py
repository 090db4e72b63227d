"""Checks that third-party strategies keep their contracts, each one call in a test suite.

They need the ``testing`` extra (``pip install 'zarr-cachestore[testing]'``): hypothesis and
pytest.
"""

from zarr_cachestore.testing._kit import examples
from zarr_cachestore.testing.admission import check_admission_policy
from zarr_cachestore.testing.eviction import check_eviction_policy
from zarr_cachestore.testing.expiry import check_expiry_policy
from zarr_cachestore.testing.store import check_cache_store

__all__ = [
    "check_admission_policy",
    "check_cache_store",
    "check_eviction_policy",
    "check_expiry_policy",
    "examples",
]
