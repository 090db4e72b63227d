"""The disk tier, one process: what it holds, in what order it evicts, what it refuses, and
what survives a restart or a damaged file."""

from __future__ import annotations

from pathlib import Path

import pytest
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from disk_workers import directory_bytes, listed, temp_files
from zarr_cachestore import LRU, EntryInfo, PriorityPolicy
from zarr_cachestore.disk_tier import DiskTier
from zarr_cachestore.shared import SharedTier


async def put(
    tier: DiskTier, key: str, value: bytes, namespace: str = "ns", deadline: float | None = None
) -> bool:
    token = await tier.begin(namespace, key)
    return await tier.put(namespace, key, value, token=token, deadline=deadline)


async def held(tier: DiskTier, *keys: str, namespace: str = "ns") -> list[str]:
    return [key for key in keys if await tier.get(namespace, key) is not None]


@pytest.fixture
def tier(tmp_path: Path) -> DiskTier:
    return DiskTier(tmp_path / "tier", max_size=1000)


def test_the_disk_tier_is_a_shared_tier(tier: DiskTier) -> None:
    assert isinstance(tier, SharedTier)


async def test_a_value_put_is_read_back_whole_and_by_range(tier: DiskTier) -> None:
    value = bytes(range(200))
    assert await put(tier, "a/c/0", value)
    assert await tier.get("ns", "a/c/0") == value
    assert await tier.get("ns", "a/c/0", RangeByteRequest(10, 20)) == value[10:20]
    assert await tier.get("ns", "a/c/0", RangeByteRequest(190, 500)) == value[190:]
    assert await tier.get("ns", "a/c/0", OffsetByteRequest(150)) == value[150:]
    assert await tier.get("ns", "a/c/0", SuffixByteRequest(7)) == value[-7:]
    assert await tier.get("ns", "a/c/0", SuffixByteRequest(900)) == value
    assert await tier.get("ns", "missing") is None


async def test_namespaces_never_mix(tier: DiskTier) -> None:
    assert await put(tier, "k", b"one", namespace="first")
    assert await put(tier, "k", b"two!", namespace="second")
    assert await tier.get("first", "k") == b"one"
    assert await tier.get("second", "k") == b"two!"
    await tier.invalidate("first", "k")
    assert await tier.get("first", "k") is None
    assert await tier.get("second", "k") == b"two!"
    info = await tier.info()
    assert info["namespaces"] == {"second": {"entries": 1, "bytes": 4}}
    assert (info["max_size"], info["bytes"], info["entries"]) == (1000, 4, 1)


async def test_a_value_larger_than_the_budget_is_refused(tier: DiskTier) -> None:
    assert not await put(tier, "big", b"x" * 1001)
    assert await put(tier, "fits", b"x" * 1000)


async def test_a_put_replaces_the_value_and_its_file(tier: DiskTier) -> None:
    assert await put(tier, "k", b"old" * 10)
    assert await put(tier, "k", b"new")
    assert await tier.get("ns", "k") == b"new"
    assert directory_bytes(tier.path) == 3
    assert (await tier.info())["bytes"] == 3


class Clock:
    """Wall-clock seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_an_expired_value_is_not_served(tmp_path: Path) -> None:
    clock = Clock()
    tier = DiskTier(tmp_path, max_size=1000, clock=clock)
    assert await put(tier, "soon", b"v", deadline=clock.now + 5)
    assert await put(tier, "later", b"w", deadline=clock.now + 60)
    assert not await put(tier, "past", b"x", deadline=clock.now)
    assert await tier.get("ns", "soon") == b"v"
    clock.now += 5
    assert await tier.get("ns", "soon") is None
    assert await tier.get("ns", "later") == b"w"
    assert (await tier.info())["entries"] == 1


async def test_expired_values_leave_before_live_ones_are_evicted(tmp_path: Path) -> None:
    clock = Clock()
    tier = DiskTier(tmp_path, max_size=300, clock=clock)
    assert await put(tier, "live", b"l" * 100)
    assert await put(tier, "dying", b"d" * 100, deadline=clock.now + 5)
    assert await put(tier, "live2", b"l" * 100)
    clock.now += 5
    assert await put(tier, "new", b"n" * 100)
    assert set(listed(tmp_path)) == {("ns", "live"), ("ns", "live2"), ("ns", "new")}


# -- coherence


async def test_a_put_is_refused_when_its_key_was_invalidated_since_begin(tier: DiskTier) -> None:
    token = await tier.begin("ns", "k")
    await tier.invalidate("ns", "k")
    assert not await tier.put("ns", "k", b"stale", token=token, deadline=None)
    other = await tier.begin("ns", "other")
    await tier.invalidate("ns", "k")
    assert await tier.put("ns", "other", b"fine", token=other, deadline=None)
    fresh = await tier.begin("ns", "k")
    assert await tier.put("ns", "k", b"fresh", token=fresh, deadline=None)


async def test_a_prefix_or_a_clear_refuses_puts_begun_before_it(tier: DiskTier) -> None:
    inside, outside = await tier.begin("ns", "a/c/1"), await tier.begin("ns", "b/c/1")
    elsewhere = await tier.begin("other", "a/c/1")
    await tier.invalidate_prefix("ns", "a/")
    assert not await tier.put("ns", "a/c/1", b"x", token=inside, deadline=None)
    assert await tier.put("ns", "b/c/1", b"x", token=outside, deadline=None)
    assert await tier.put("other", "a/c/1", b"x", token=elsewhere, deadline=None)
    token = await tier.begin("other", "z")
    await tier.clear()
    assert not await tier.put("other", "z", b"x", token=token, deadline=None)


async def test_invalidate_prefix_drops_exactly_the_keys_it_starts(tier: DiskTier) -> None:
    for key in ("a/b", "a/bc", "a/", "ab", "a"):
        assert await put(tier, key, b"v")
    await tier.invalidate_prefix("ns", "a/")
    assert await held(tier, "a/b", "a/bc", "a/", "ab", "a") == ["ab", "a"]


async def test_changes_lists_the_keys_invalidated_since_a_cursor(tier: DiskTier) -> None:
    cursor, keys = await tier.changes("ns", None)
    assert keys is None
    await tier.invalidate("ns", "k1")
    await tier.invalidate("other", "k2")
    await tier.invalidate("ns", "k3")
    await tier.invalidate("ns", "k1")
    cursor, keys = await tier.changes("ns", cursor)
    assert keys == ["k1", "k3"]
    assert await tier.changes("ns", cursor) == (cursor, [])
    await tier.invalidate_prefix("ns", "a/")
    assert (await tier.changes("ns", cursor))[1] is None
    cursor, _ = await tier.changes("other", cursor)
    await tier.clear(None)
    assert (await tier.changes("other", cursor))[1] is None


async def test_changes_cannot_list_past_the_end_of_the_log(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path, max_size=100, log_size=3)
    cursor, _ = await tier.changes("ns", None)
    token = await tier.begin("ns", "k")
    for i in range(4):
        await tier.invalidate("ns", f"other{i}")
    assert (await tier.changes("ns", cursor))[1] is None
    assert not await tier.put("ns", "k", b"v", token=token, deadline=None)  # cannot tell: refused
    recent, _ = await tier.changes("ns", None)
    await tier.invalidate("ns", "x")
    assert (await tier.changes("ns", recent))[1] == ["x"]


async def test_a_cursor_or_token_the_log_never_gave_is_refused(tier: DiskTier) -> None:
    """As from an index that was since replaced: nothing can be said about it."""
    assert (await tier.changes("ns", 999))[1] is None
    assert not await tier.put("ns", "k", b"v", token=999, deadline=None)


# -- eviction orders


async def fill_and_touch(tier: DiskTier) -> None:
    """a, b, c of 100 bytes each in a 300-byte tier; then a is read twice, c once."""
    for key in "abc":
        assert await put(tier, key, key.encode() * 100)
    for key in "aac":
        assert await tier.get("ns", key) is not None


@pytest.mark.parametrize(
    ("policy", "survivors"),
    [("lru", ["a", "c", "d"]), ("fifo", ["b", "c", "d"]), ("lfu", ["a", "c", "d"])],
)
async def test_each_order_picks_its_victim(
    tmp_path: Path, policy: str, survivors: list[str]
) -> None:
    tier = DiskTier(tmp_path, max_size=300, policy=policy)
    await fill_and_touch(tier)
    assert await put(tier, "d", b"d" * 100)
    assert await held(tier, *"abcd") == survivors


async def test_lfu_keeps_the_most_read_and_breaks_ties_by_recency(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path, max_size=300, policy="lfu")
    await fill_and_touch(tier)  # hits: a 2, b 0, c 1
    assert await put(tier, "d", b"d" * 100)  # b leaves
    assert await put(tier, "e", b"e" * 100)  # d (0 hits) leaves, not c (1 hit)
    assert await held(tier, *"abcde") == ["a", "c", "e"]


async def test_gdsf_keeps_small_values_and_inflates_with_each_victim(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path, max_size=1000, policy="gdsf")
    assert await put(tier, "large", b"l" * 600)
    assert await put(tier, "small", b"s" * 100)
    assert await put(tier, "medium", b"m" * 300)  # fits exactly
    assert await put(tier, "new", b"n" * 100)  # the large one has the lowest frequency / size
    assert set(listed(tier.path)) == {("ns", "small"), ("ns", "medium"), ("ns", "new")}
    # The victim's priority (1/600) inflates every later priority: "again" (1/400 + 1/600)
    # now outranks "medium" (1/300), which entered before the inflation.
    assert await put(tier, "again", b"a" * 400)
    assert await put(tier, "last", b"z" * 200)
    assert await held(tier, "small", "medium", "new", "again", "last") == [
        "small",
        "new",
        "again",
        "last",
    ]


class BySize(PriorityPolicy):
    """The largest entry leaves first."""

    def priority(self, key: object, info: EntryInfo) -> float:
        return -info.size


async def test_a_priority_policy_subclass_orders_the_tier(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path, max_size=300, policy=BySize)
    for key, size in (("s", 50), ("l", 150), ("m", 100)):
        assert await put(tier, key, b"v" * size)
    assert await put(tier, "new", b"n" * 100)
    assert await held(tier, "s", "l", "m", "new") == ["s", "m", "new"]
    assert (await tier.info())["policy"] == f"{BySize.__module__}:BySize"


@pytest.mark.parametrize("policy", [LRU(), LRU, "sieve", "s3fifo", 3])
def test_an_order_a_shared_tier_cannot_keep_is_refused(tmp_path: Path, policy: object) -> None:
    with pytest.raises(ValueError, match=r"cannot order its entries by .*'lru', 'lfu', 'fifo'"):
        DiskTier(tmp_path, max_size=100, policy=policy)


def test_reopening_with_another_order_is_refused_unless_cold(tmp_path: Path) -> None:
    DiskTier(tmp_path, max_size=100, policy="lru").close()
    with pytest.raises(ValueError, match=r"orders its entries by 'lru'.*warm=False"):
        DiskTier(tmp_path, max_size=100, policy="lfu")
    DiskTier(tmp_path, max_size=100, policy="lfu", warm=False).close()


def test_a_bad_budget_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_size must be a number of bytes"):
        DiskTier(tmp_path, max_size=-1)


# -- restarts, crashes and damage


async def test_a_new_tier_on_the_same_path_serves_what_the_last_one_held(tmp_path: Path) -> None:
    first = DiskTier(tmp_path, max_size=300)
    await fill_and_touch(first)
    await first.aclose()
    second = DiskTier(tmp_path, max_size=300)
    assert await put(second, "d", b"d" * 100)  # the order survived: b is least recent
    assert await held(second, *"abcd") == ["a", "c", "d"]


async def test_a_cold_open_drops_everything_and_tells_other_processes(tmp_path: Path) -> None:
    first = DiskTier(tmp_path, max_size=300)
    assert await put(first, "k", b"v")
    cursor, _ = await first.changes("ns", None)
    DiskTier(tmp_path, max_size=300, warm=False).close()
    assert await first.get("ns", "k") is None
    assert (await first.changes("ns", cursor))[1] is None
    assert directory_bytes(tmp_path) == 0


async def test_a_damaged_file_is_dropped_not_served(tier: DiskTier) -> None:
    for key in ("flipped", "short", "gone"):
        assert await put(tier, key, bytes(100))
    files = {key: tier.path / "values" / file for (_, key), file in listed(tier.path).items()}
    with files["flipped"].open("r+b") as f:
        f.seek(50)
        f.write(b"\x01")
    with files["short"].open("r+b") as f:
        f.truncate(99)
    files["gone"].unlink()
    assert await tier.get("ns", "flipped", RangeByteRequest(0, 10)) == bytes(10)  # sizes match
    for key in ("flipped", "short", "gone"):
        assert await tier.get("ns", key) is None
    assert await tier.get("ns", "short", RangeByteRequest(0, 10)) is None
    info = await tier.info()
    assert (info["entries"], info["bytes"]) == (0, 0)
    assert directory_bytes(tier.path) == 0


async def test_opening_removes_orphan_files_and_drops_entries_without_one(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path, max_size=1000)
    assert await put(tier, "kept", b"k" * 10)
    assert await put(tier, "lost", b"l" * 10)
    await tier.aclose()
    (tmp_path / "values" / listed(tmp_path)["ns", "lost"]).unlink()
    orphans = tmp_path / "values" / "ab"
    orphans.mkdir(exist_ok=True)
    (orphans / "ab12.tmp").write_bytes(b"torn")
    (orphans / "ab34").write_bytes(b"unlisted")
    reopened = DiskTier(tmp_path, max_size=1000)
    assert await held(reopened, "kept", "lost") == ["kept"]
    assert directory_bytes(tmp_path) == 10
    assert temp_files(tmp_path) == []
    assert (await reopened.info())["bytes"] == 10


def test_an_unreadable_index_is_reported_or_replaced_when_cold(tmp_path: Path) -> None:
    (tmp_path / "index.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(RuntimeError, match=r"cannot open the index .*warm=False"):
        DiskTier(tmp_path, max_size=100)
    DiskTier(tmp_path, max_size=100, warm=False).close()


async def test_a_put_sweeps_when_the_interval_has_passed(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path, max_size=1000, sweep_interval=0.0)
    orphan = tmp_path / "values" / "cd" / "cd56.tmp"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a killed writer")
    assert await put(tier, "k", b"v")
    assert not orphan.exists()
    assert directory_bytes(tmp_path) == 1


async def test_a_bad_byte_request_is_named(tier: DiskTier) -> None:
    assert await put(tier, "k", b"value")
    with pytest.raises(ValueError, match="not a byte range"):
        await tier.get("ns", "k", RangeByteRequest(4, 2))
    with pytest.raises(TypeError, match="pass a RangeByteRequest, OffsetByteRequest or"):
        await tier.get("ns", "k", (0, 2))  # type: ignore[arg-type]
