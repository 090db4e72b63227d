"""``zarr-cachestore cache info`` and ``cache clear`` on a disk tier's directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from disk_workers import directory_bytes
from zarr_cachestore.cli import main
from zarr_cachestore.disk_tier import DiskTier


async def filled(path: Path) -> DiskTier:
    tier = DiskTier(path, max_size=2**20, policy="lfu")
    for namespace, key, size in (("era5", "a", 1000), ("era5", "b", 2000), ("gfs", "a", 3000)):
        token = await tier.begin(namespace, key)
        assert await tier.put(namespace, key, bytes(size), token=token, deadline=None)
    return tier


async def test_cache_info_shows_namespaces_entries_bytes_and_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await filled(tmp_path)
    assert main(["cache", "info", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"disk tier {tmp_path} (eviction order lfu)"
    assert lines[1] == "budget 1.0 MiB, held 5.9 KiB in 3 entries, 0 B being written"
    assert lines[3].split() == ["era5", "2", "2.9", "KiB"]
    assert lines[4].split() == ["gfs", "1", "2.9", "KiB"]


async def test_cache_clear_drops_one_namespace_or_all_and_tells_the_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tier = await filled(tmp_path)
    cursor, _ = await tier.changes("era5", None)
    assert main(["cache", "clear", str(tmp_path), "--namespace", "era5"]) == 0
    assert capsys.readouterr().out == f"cleared namespace 'era5' of {tmp_path}\n"
    assert await tier.get("era5", "a") is None
    assert await tier.get("gfs", "a") == bytes(3000)
    assert (await tier.changes("era5", cursor))[1] is None
    assert main(["cache", "clear", str(tmp_path)]) == 0
    assert (await tier.info())["entries"] == 0
    assert directory_bytes(tmp_path) == 0


def test_cache_commands_name_a_directory_without_a_tier(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no disk tier at .*index.sqlite3 does not exist"):
        main(["cache", "info", str(tmp_path)])
