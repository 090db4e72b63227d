"""zarr's store conformance suite, ``zarr.testing.store.StoreTests``, run against RedisStore on a
real ``redis-server``, and what the suite does not cover: prefixes kept apart, keys that look
like glob patterns, connections on several event loops, and a server that goes away."""

from __future__ import annotations

import asyncio
import pickle
import time
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, cpu
from zarr.core.sync import sync
from zarr.testing.store import StoreTests

from helpers import PROTO, buf, expected_bytes, raw
from services import RedisServer
from zarr_cachestore import RedisStore, RedisUnavailable


class TestRedisStore(StoreTests[RedisStore, cpu.Buffer]):
    store_cls = RedisStore
    buffer_cls = cpu.Buffer

    @pytest.fixture
    def store_kwargs(self, redis_url: str, redis_prefix: str) -> dict[str, Any]:
        return {"url": redis_url, "prefix": redis_prefix}

    @pytest.fixture
    async def store(self, open_kwargs: dict[str, Any]) -> Any:
        store = await self.store_cls.open(**open_kwargs)
        yield store
        await store.aclose()

    @pytest.fixture
    async def store_not_open(self, store_kwargs: dict[str, Any]) -> Any:
        store = self.store_cls(**store_kwargs)
        yield store
        await store.aclose()

    async def test_with_read_only_store(  # type: ignore[override]
        self, open_kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """zarr's test, with the stores it opens closed after it (it leaves them open)."""
        opened: list[RedisStore] = []
        open_store = RedisStore.open

        async def recording_open(*args: Any, **kwargs: Any) -> RedisStore:
            store = await open_store(*args, **kwargs)
            opened.append(store)
            return store

        monkeypatch.setattr(RedisStore, "open", recording_open)
        try:
            await super().test_with_read_only_store(open_kwargs)
        finally:
            for store in opened:
                await store.aclose()

    # The suite's direct access to the truth: the Redis strings, through a client of our own.

    async def get(self, store: RedisStore, key: str) -> cpu.Buffer:
        async with aioredis.from_url(store.url) as client:
            data = await client.get(store.prefix + key)
        assert data is not None, f"{key!r} is not in Redis"
        return self.buffer_cls.from_bytes(bytes(data))  # type: ignore[arg-type]

    async def set(self, store: RedisStore, key: str, value: Buffer) -> None:
        async with aioredis.from_url(store.url) as client:
            await client.set(store.prefix + key, value.to_bytes())

    def test_store_repr(self, store: RedisStore) -> None:
        assert repr(store) == f"RedisStore({store.url!r}, prefix={store.prefix!r})"

    def test_store_supports_writes(self, store: RedisStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: RedisStore) -> None:
        assert store.supports_listing


@pytest.fixture
async def store(redis_url: str, redis_prefix: str) -> Any:
    store = await RedisStore.open(redis_url, prefix=redis_prefix)
    yield store
    await store.aclose()


async def test_clear_and_listing_stay_within_the_prefix(redis_url: str, redis_prefix: str) -> None:
    mine = await RedisStore.open(redis_url, prefix=redis_prefix + "a:")
    theirs = await RedisStore.open(redis_url, prefix=redis_prefix + "b:")
    await mine.set("x/zarr.json", buf(b"mine"))
    await theirs.set("x/zarr.json", buf(b"theirs"))
    assert [k async for k in mine.list()] == ["x/zarr.json"]
    await mine.clear()
    assert [k async for k in mine.list()] == []
    assert raw(await theirs.get("x/zarr.json", PROTO)) == b"theirs"
    await mine.aclose()
    await theirs.aclose()


@pytest.mark.parametrize("special", ["*", "?", "[ab]", "\\", "a*b/[c]"])
async def test_glob_characters_in_keys_and_prefixes_match_literally(
    store: RedisStore, special: str
) -> None:
    await store.set(f"{special}/c/0", buf(b"1"))
    await store.set("plain/c/0", buf(b"2"))
    await store.set(f"{special}x/c/0", buf(b"3"))
    assert sorted([k async for k in store.list_prefix(f"{special}/")]) == [f"{special}/c/0"]
    assert sorted([k async for k in store.list_dir(special)]) == ["c"]
    await store.delete_dir(special)
    assert sorted([k async for k in store.list()]) == sorted(["plain/c/0", f"{special}x/c/0"])


async def test_non_ascii_prefix_and_keys(redis_url: str, redis_prefix: str) -> None:
    store = await RedisStore.open(redis_url, prefix=redis_prefix + "zarré:")
    await store.set("grüße/c/0", buf(b"ok"))
    assert [k async for k in store.list()] == ["grüße/c/0"]
    assert await store.getsize("grüße/c/0") == 2
    await store.aclose()


@pytest.mark.parametrize(
    "request_",
    [
        None,
        RangeByteRequest(0, 0),
        RangeByteRequest(3, 7),
        RangeByteRequest(8, 100),
        RangeByteRequest(200, 300),
        OffsetByteRequest(0),
        OffsetByteRequest(9),
        OffsetByteRequest(50),
        SuffixByteRequest(0),
        SuffixByteRequest(4),
        SuffixByteRequest(100),
    ],
)
async def test_byte_requests_are_cut_at_the_end_of_the_value(
    store: RedisStore, request_: Any
) -> None:
    data = bytes(range(10))
    await store.set("v", buf(data))
    assert raw(await store.get("v", PROTO, request_)) == expected_bytes(data, request_)


async def test_range_of_a_missing_key_is_none(store: RedisStore) -> None:
    assert await store.get("missing", PROTO, RangeByteRequest(0, 1)) is None
    assert await store.get("missing", PROTO, SuffixByteRequest(1)) is None


async def test_set_if_not_exists_keeps_the_first_value(store: RedisStore) -> None:
    await store.set_if_not_exists("k", buf(b"first"))
    await store.set_if_not_exists("k", buf(b"second"))
    assert raw(await store.get("k", PROTO)) == b"first"


def connections(url: str, expected: int | None = None) -> int:
    """How many clients are connected to the server, besides the one asking; given what is
    ``expected``, wait up to a second for it, as the server sees closed sockets a little late."""
    deadline = time.monotonic() + 1.0
    with redis.Redis.from_url(url) as client:
        while True:
            count = len(client.client_list()) - 1
            if count == expected or expected is None or time.monotonic() > deadline:
                return count
            time.sleep(0.01)


def test_synchronous_and_asynchronous_callers_each_get_a_client_on_their_loop(
    redis_url: str, redis_prefix: str
) -> None:
    before = connections(redis_url)
    store = RedisStore(redis_url, prefix=redis_prefix)
    sync(store.set("k", buf(b"from zarr's loop")))
    loop = asyncio.new_event_loop()
    assert raw(loop.run_until_complete(store.get("k", PROTO))) == b"from zarr's loop"
    assert raw(sync(store.get("k", PROTO))) == b"from zarr's loop"
    assert connections(redis_url, before + 2) == before + 2  # one client on each loop
    store.close()  # from outside both loops: each client is closed on its own
    assert connections(redis_url, before) == before
    loop.close()


async def test_a_pickled_store_reconnects_in_its_new_life(store: RedisStore) -> None:
    await store.set("k", buf(b"v"))
    copy = pickle.loads(pickle.dumps(store))
    assert copy == store
    assert raw(await copy.get("k", PROTO)) == b"v"
    await copy.aclose()


def test_bad_url_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match=r"redis://127\.0\.0\.1:6379/0"):
        RedisStore("localhost:6379")


async def test_a_server_that_goes_away_raises_a_connection_error_and_comes_back(
    own_redis_server: RedisServer,
) -> None:
    store = await RedisStore.open(own_redis_server.url, prefix="p:")
    await store.set("k", buf(b"v"))
    own_redis_server.kill()
    with pytest.raises(ConnectionError, match=r"cannot reach Redis at redis://127\.0\.0\.1"):
        await store.get("k", PROTO)
    with pytest.raises(RedisUnavailable):
        await store.set("k", buf(b"w"))
    own_redis_server.start()
    assert await store.get("k", PROTO) is None  # the server kept nothing
    await store.set("k", buf(b"w"))
    assert raw(await store.get("k", PROTO)) == b"w"
    own_redis_server.restart()  # killed and started again between two calls
    assert await store.get("k", PROTO) is None
    await store.aclose()
