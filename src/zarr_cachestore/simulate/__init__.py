"""A trace-driven cache simulator for the eviction policies ``CacheStore`` uses.

>>> from zarr_cachestore.simulate import simulate, zipf
>>> results = simulate(zipf(10_000, 1_000, seed=1), ["lru", "lfu"], [0.01, 0.1])
"""

from zarr_cachestore.simulate.bounds import belady, pfoo_lower
from zarr_cachestore.simulate.readers import (
    CSV_COLUMNS,
    read_csv,
    read_oracle_general,
    read_trace,
    read_zarr_csv,
    write_oracle_general,
)
from zarr_cachestore.simulate.record import TraceRecorder
from zarr_cachestore.simulate.replay import Result, resolve_sizes, simulate
from zarr_cachestore.simulate.report import curves, format_table, plot_curves
from zarr_cachestore.simulate.synthetic import loop, object_sizes, scan, zipf
from zarr_cachestore.simulate.trace import Trace, WorkingSet

__all__ = [
    "CSV_COLUMNS",
    "Result",
    "Trace",
    "TraceRecorder",
    "WorkingSet",
    "belady",
    "curves",
    "format_table",
    "loop",
    "object_sizes",
    "pfoo_lower",
    "plot_curves",
    "read_csv",
    "read_oracle_general",
    "read_trace",
    "read_zarr_csv",
    "resolve_sizes",
    "scan",
    "simulate",
    "write_oracle_general",
    "zipf",
]
