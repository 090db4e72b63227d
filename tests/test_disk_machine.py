"""The disk tier against a model a reader can check by eye: an LRU-ordered dict of values within
a byte budget, a version per key for coherence tokens, and the keys invalidated since each
namespace's cursor. At random steps the tier is closed and opened again on the same directory,
and the model does not change: a restart keeps values, order, tokens and cursors."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from disk_workers import directory_bytes, listed, temp_files, value_of
from helpers import examples, expected_bytes
from zarr_cachestore.disk_tier import DiskTier

MAX_SIZE = 400
NAMESPACES = ["a", "b"]
KEYS = ["x/0", "x/1", "y/0", "y"]
PREFIXES = ["x/", "y", ""]

Slot = tuple[str, str]  # (namespace, key)
T = TypeVar("T")

namespaces = st.sampled_from(NAMESPACES)
keys = st.sampled_from(KEYS)
sizes = st.sampled_from([0, 1, 60, 130, 200])
requests = st.one_of(
    st.none(),
    st.builds(RangeByteRequest, st.integers(0, 250), st.integers(250, 300)),
    st.builds(OffsetByteRequest, st.integers(0, 250)),
    st.builds(SuffixByteRequest, st.integers(0, 250)),
)


class DiskTierMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.path = Path(tempfile.mkdtemp(prefix="disk-machine-"))
        self.tier = DiskTier(self.path, MAX_SIZE)
        self.index = sqlite3.connect(self.path / "index.sqlite3")  # to look, not to count hits
        self.values: OrderedDict[Slot, bytes] = OrderedDict()  # least recently used first
        self.versions: dict[Slot, int] = dict.fromkeys(
            ((ns, key) for ns in NAMESPACES for key in KEYS), 0
        )
        self.begun: dict[Slot, tuple[int, int]] = {}  # slot -> (tier token, version then)
        self.cursors: dict[str, int | None] = dict.fromkeys(NAMESPACES)
        self.pending: dict[str, list[str] | None] = dict.fromkeys(NAMESPACES)  # since cursor
        self.generation = 0  # so that a put after an invalidation stores different bytes

    def run(self, awaitable: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def value(self, slot: Slot, size: int) -> bytes:
        self.generation += 1
        return value_of(f"{slot}@{self.generation}", size)

    # -- rules

    @initialize(slots=st.lists(st.tuples(namespaces, keys), min_size=3, max_size=5))
    def fill(self, slots: list[Slot]) -> None:
        for namespace, key in slots:
            self.put(namespace, key, 100)

    @rule(namespace=namespaces, key=keys)
    def begin(self, namespace: str, key: str) -> None:
        slot = (namespace, key)
        self.begun[slot] = (self.run(self.tier.begin(namespace, key)), self.versions[slot])

    @rule(namespace=namespaces, key=keys, size=sizes)
    def put(self, namespace: str, key: str, size: int) -> None:
        slot = (namespace, key)
        if slot not in self.begun:
            self.begin(namespace, key)
        token, version = self.begun.pop(slot)
        value = self.value(slot, size)
        stored = self.run(self.tier.put(namespace, key, value, token=token, deadline=None))
        assert stored == (version == self.versions[slot])
        if stored:
            while sum(map(len, self.values.values())) + size > MAX_SIZE:
                self.values.popitem(last=False)
            self.values.pop(slot, None)
            self.values[slot] = value

    @rule(reads=st.lists(st.tuples(st.integers(0, 9), requests), min_size=1, max_size=4))
    def get(self, reads: list[tuple[int, ByteRequest | None]]) -> None:
        """Reads by position in the model's order (0: the least recently used); a position
        past the end reads a slot not held."""
        for position, request in reads:
            held = list(self.values)
            missing = [slot for slot in self.versions if slot not in self.values]
            namespace, key = (held + missing)[position % len(self.versions)]
            got = self.run(self.tier.get(namespace, key, request))
            if (namespace, key) in self.values:
                self.values.move_to_end((namespace, key))
                assert got == expected_bytes(self.values[namespace, key], request)
            else:
                assert got is None

    @rule(namespace=namespaces, key=keys)
    def invalidate(self, namespace: str, key: str) -> None:
        self.run(self.tier.invalidate(namespace, key))
        self.drop([(namespace, key)])
        pending = self.pending[namespace]
        if pending is not None:
            pending.append(key)

    @rule(namespace=namespaces, prefix=st.sampled_from(PREFIXES), whole=st.booleans())
    def invalidate_many(self, namespace: str, prefix: str, whole: bool) -> None:
        """A prefix of ``namespace``; or, if ``whole``, all of it ("" for every namespace)."""
        cleared = NAMESPACES if whole and not prefix else [namespace]
        if not whole:
            self.run(self.tier.invalidate_prefix(namespace, prefix))
        else:
            self.run(self.tier.clear(namespace if prefix else None))
        self.drop([(ns, key) for ns in cleared for key in KEYS if whole or key.startswith(prefix)])
        self.pending.update(dict.fromkeys(cleared))

    @rule(namespace=namespaces)
    def poll_changes(self, namespace: str) -> None:
        cursor, changed = self.run(self.tier.changes(namespace, self.cursors[namespace]))
        expected = self.pending[namespace]
        assert changed == (None if expected is None else list(dict.fromkeys(expected)))
        self.cursors[namespace], self.pending[namespace] = cursor, []

    @rule()
    def restart(self) -> None:
        self.run(self.tier.aclose())
        self.tier = DiskTier(self.path, MAX_SIZE)

    def drop(self, slots: list[Slot]) -> None:
        for slot in slots:
            self.values.pop(slot, None)
            self.versions[slot] += 1

    # -- invariants

    @invariant()
    def holds_what_the_model_holds(self) -> None:
        info = self.run(self.tier.info())
        per_namespace: dict[str, dict[str, int]] = {}
        for (namespace, _), value in self.values.items():
            held = per_namespace.setdefault(namespace, {"entries": 0, "bytes": 0})
            held["entries"] += 1
            held["bytes"] += len(value)
        assert info["namespaces"] == per_namespace
        assert info["bytes"] == sum(map(len, self.values.values())) <= MAX_SIZE
        assert (info["entries"], info["reserved"]) == (len(self.values), 0)

    @invariant()
    def lists_the_keys_the_model_holds(self) -> None:
        assert set(listed(self.index)) == set(self.values)

    @invariant()
    def the_files_are_the_values(self) -> None:
        assert directory_bytes(self.path) == sum(map(len, self.values.values()))
        assert temp_files(self.path) == []

    def teardown(self) -> None:
        try:
            self.run(self.tier.aclose())
        finally:
            self.index.close()
            self.loop.close()
            shutil.rmtree(self.path, ignore_errors=True)


TestDiskTier = DiskTierMachine.TestCase
TestDiskTier.settings = settings(max_examples=examples(30), stateful_step_count=40)


@pytest.mark.slow
class TestDiskTierDeep(DiskTierMachine.TestCase):  # type: ignore[misc, valid-type]
    settings = settings(max_examples=400, stateful_step_count=80)
