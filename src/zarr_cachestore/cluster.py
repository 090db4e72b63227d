"""Statistics of a cache over a dask.distributed cluster: each worker keeps its own cache (one
per process, see :mod:`zarr_cachestore.attach`), and :func:`cluster_stats` gathers them.

Needs dask's distributed scheduler: ``pip install 'zarr-cachestore[dask]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zarr_cachestore.attach import engines

if TYPE_CHECKING:
    from distributed import Client

    from zarr_cachestore.store import CacheStore

__all__ = ["cluster_stats"]

_RATIOS = {"hit_rate", "byte_hit_rate"}


def cluster_stats(client: Client, store: CacheStore) -> dict[str, dict[str, Any]]:
    """``cache_stats()`` of ``store``'s cache on every worker of ``client``'s cluster, by worker
    address, and their sum under ``"total"`` (its ratios recomputed from the sums). A worker
    that has not received a copy of ``store`` reports nothing."""
    per_worker: dict[str, dict[str, Any] | None] = client.run(_worker_stats, store._config.identity)
    found = {worker: stats for worker, stats in per_worker.items() if stats is not None}
    total: dict[str, Any] = {}
    for stats in found.values():
        for name, value in stats.items():
            if name not in _RATIOS:
                total[name] = total.get(name, 0) + value
    requests = total.get("total_requests", 0)
    moved = total.get("bytes_from_cache", 0) + total.get("bytes_from_source", 0)
    total["hit_rate"] = total.get("hits", 0) / requests if requests else 0.0
    total["byte_hit_rate"] = total.get("bytes_from_cache", 0) / moved if moved else 0.0
    return {**found, "total": total}


def _worker_stats(identity: str) -> dict[str, Any] | None:
    engine = engines().get(identity)
    if engine is None:
        return None
    with engine.lock:
        return engine.stats.as_dict()
