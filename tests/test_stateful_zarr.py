"""zarr's stateful store tests, run against CacheStore in several configurations.

``ZarrStoreStateMachine`` drives random ``set``/``get``/``get_partial_values``/``delete``/
``clear``/``exists`` sequences through the store and compares every answer with a dict.
``ZarrHierarchyStateMachine`` creates, writes, resizes and deletes groups and arrays through
zarr itself and compares the store with a plain ``MemoryStore`` that holds the same hierarchy.

Each machine reuses one store for all its examples (it clears the store as each one begins), so
whatever the cache remembers from one example must not leak into the next.

The sources are ``MemoryStore``s: zarr's machines recognise a ``LocalStore`` only by
``isinstance``, which a wrapper hides, so a ``LocalStore`` source would trip checks that zarr
itself skips for that store. ``LocalStore`` is covered as a cache store instead.

The example budget comes from the hypothesis profile (``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis.stateful import run_state_machine_as_test
from zarr.storage import LocalStore, MemoryStore
from zarr.testing.stateful import ZarrHierarchyStateMachine, ZarrStoreStateMachine

from zarr_cachestore import CacheStore

# zarr's array strategy draws data types that have no stable v3 specification yet, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


class TickingClock:
    """A clock that advances one second each time it is read, so entries expire mid-run."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _existing_directory(path: Path) -> Path:
    path.mkdir()
    return path


CONFIGURATIONS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "memory-tier": lambda tmp: {},
    "memory-store-cache-lfu-256B": lambda tmp: {
        "cache_store": MemoryStore(),
        "max_size": 256,
        "eviction": "lfu",
    },
    "local-store-cache-fifo-1KiB": lambda tmp: {
        "cache_store": LocalStore(tmp / "cache"),  # a disk tier: the source needs a name
        "max_size": 1024,
        "eviction": "fifo",
        "namespace": "state-machine",
    },
    "existing-local-store-cache-lru-512B": lambda tmp: {
        "cache_store": LocalStore(_existing_directory(tmp / "cache")),
        "max_size": 512,
        "namespace": "state-machine",
        "memory_size": 256,
    },
    "negative-caching-ttl": lambda tmp: {
        "max_size": 512,
        "cache_missing": True,
        "max_age_seconds": 25,
        "clock": TickingClock(),
    },
}


@pytest.fixture(params=sorted(CONFIGURATIONS))
def cache_store(request: pytest.FixtureRequest, tmp_path: Path) -> CacheStore:
    """A CacheStore in front of an empty MemoryStore, configured as the parameter names."""
    return CacheStore(MemoryStore(), **CONFIGURATIONS[request.param](tmp_path))


def test_store_state_machine(cache_store: CacheStore) -> None:
    run_state_machine_as_test(lambda: ZarrStoreStateMachine(cache_store))  # type: ignore[arg-type]


def test_hierarchy_state_machine(cache_store: CacheStore) -> None:
    run_state_machine_as_test(lambda: ZarrHierarchyStateMachine(cache_store))  # type: ignore[arg-type]
