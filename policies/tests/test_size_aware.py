"""The size-aware variants keep large objects that the published algorithms do not."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))

from large_objects import hit_ratios, large_object_trace


def test_large_objects() -> None:
    """40 Zipf-popular objects of 10-25% of the cache each, read 5000 times, with the capacity
    told as the store tells it."""
    ratios = hit_ratios(large_object_trace(n=5000))
    assert ratios["s3fifo-sized"] > ratios["s3fifo"] + 0.04
    assert ratios["wtinylfu-sized"] > ratios["wtinylfu"] + 0.1
    assert ratios["wtinylfu-sized"] > ratios["lru"]
