"""Plugins found through entry points: lazy, isolated when broken, never shadowing built-ins.

``plugin_fixtures/`` holds two fake installed distributions (``.dist-info`` folders): one
registers a policy whose module does not exist, a name the other registers too, and the name of
a built-in.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from zarr.storage import MemoryStore

from zarr_cachestore import LFU, LRU, CacheStore, PluginError, available, registry

FIXTURES = Path(__file__).parent / "plugin_fixtures"


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(FIXTURES))
    registry._plugins.cache_clear()
    yield
    registry._plugins.cache_clear()
    for module in ("twin_policy_a", "twin_policy_b"):
        sys.modules.pop(module, None)


@pytest.mark.usefixtures("fake_plugins")
def test_a_broken_plugin_fails_only_when_named_and_the_error_names_its_entry_point() -> None:
    with pytest.raises(PluginError, match=r"broken-policies 1\.0.*no_such_module_for_zarr"):
        CacheStore(MemoryStore(), eviction="broken")
    assert type(CacheStore(MemoryStore(), eviction="lfu").eviction) is LFU


@pytest.mark.usefixtures("fake_plugins")
def test_listing_warns_about_a_broken_plugin_and_skips_it() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = available("eviction")
    messages = [str(w.message) for w in caught]
    assert any("skipping eviction policy 'broken' from broken-policies 1.0" in m for m in messages)
    assert "broken" not in names
    assert names["lru"] == "builtin"


@pytest.mark.usefixtures("fake_plugins")
def test_a_plugin_can_never_shadow_a_built_in() -> None:
    assert type(CacheStore(MemoryStore(), eviction="lru").eviction) is LRU
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert available("eviction")["lru"] == "builtin"
    messages = [str(w.message) for w in caught]
    assert any("registers eviction policy 'lru', which is a built-in" in m for m in messages)


@pytest.mark.usefixtures("fake_plugins")
def test_a_name_two_distributions_register_warns_and_distribution_name_picks_one() -> None:
    with pytest.warns(UserWarning, match=r"'twin' is registered by several distributions"):
        CacheStore(MemoryStore(), eviction="twin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = CacheStore(MemoryStore(), eviction="broken-policies:twin").eviction
        b = CacheStore(MemoryStore(), eviction="other-policies:twin").eviction
    assert (a.origin, b.origin) == ("a", "b")
    spelled_otherwise = CacheStore(MemoryStore(), eviction="Other_Policies:twin").eviction
    assert spelled_otherwise.origin == "b"


@pytest.mark.usefixtures("fake_plugins")
def test_the_listing_says_where_each_policy_comes_from() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = available("eviction")
    assert names["broken-policies:twin"] == "broken-policies 1.0 (twin_policy_a:Twin)"
    assert names["other-policies:twin"] == "other-policies 2.0 (twin_policy_b:Twin)"


def test_a_built_in_name_resolves_without_scanning_entry_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_scan(**kwargs: object) -> None:
        raise AssertionError("entry points were scanned")

    registry._plugins.cache_clear()
    monkeypatch.setattr(registry, "entry_points", no_scan)
    assert type(registry.resolve("eviction", "lru")) is LRU
    registry._plugins.cache_clear()


@pytest.mark.usefixtures("fake_plugins")
def test_plugins_load_lazily_one_name_at_a_time() -> None:
    sys.modules.pop("twin_policy_b", None)
    CacheStore(MemoryStore(), eviction="broken-policies:twin")
    assert "twin_policy_a" in sys.modules
    assert "twin_policy_b" not in sys.modules
