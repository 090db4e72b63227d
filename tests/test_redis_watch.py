"""Pub/sub wake-ups for the Redis tier, on a real ``redis-server``: a watch wakes its cache
after each invalidation of its namespace and whenever it may have missed some, a write through
one OS process reaches another's memory tier within a second though it polls once a minute,
and a watch ends, thread and connection, with its cache."""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from zarr.storage import LocalStore

from services import RedisServer
from tier_workers import NAMESPACE, cache_worker
from zarr_cachestore import CacheStore, RedisStore, RedisTier
from zarr_cachestore.attach import release
from zarr_cachestore.redis_watch import RedisWatch
from zarr_cachestore.shared import Watchable


def subscribers(url: str, channel: str) -> int:
    """How many connections the server has subscribed to ``channel``; -1 if it is down."""
    try:
        with redis.Redis.from_url(url, socket_timeout=1) as client:
            return int(dict(client.pubsub_numsub(channel))[channel.encode()])
    except redis.ConnectionError:
        return -1


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("zarr-cachestore watch")]


class Wakes:
    """The wake-ups of a watch, each with how many subscribers its channel had at that moment
    (-1: the server was down)."""

    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel
        self.seen: queue.SimpleQueue[int] = queue.SimpleQueue()

    def __call__(self) -> None:
        self.seen.put(subscribers(self.url, self.channel))

    def next(self, seconds: float) -> int | None:
        """The subscriber count of the next wake-up within ``seconds``; ``None`` if none."""
        try:
            return self.seen.get(timeout=seconds)
        except queue.Empty:
            return None

    def drain(self) -> list[int]:
        drained = []
        while not self.seen.empty():
            drained.append(self.seen.get())
        return drained


# -- one watch ---------------------------------------------------------------------------------


def test_the_tier_is_watchable_and_the_disk_tier_is_not(redis_url: str, tmp_path: Path) -> None:
    from zarr_cachestore.disk_tier import DiskTier

    assert isinstance(RedisTier(redis_url, max_size=1), Watchable)
    disk = DiskTier(tmp_path, max_size=1)
    assert not isinstance(disk, Watchable)
    disk.close()


async def test_a_watch_wakes_once_per_invalidation_of_its_namespace_only(
    redis_url: str, redis_prefix: str
) -> None:
    tier = RedisTier(redis_url, max_size=1000, prefix=redis_prefix)
    wakes = Wakes(redis_url, tier.channel("ns"))
    watch = tier.watch("ns", wakes)
    try:
        assert wakes.next(5) == 1  # subscribed: the wake-up comes after the subscription
        await tier.invalidate("other", "k")
        assert wakes.next(0.3) is None
        invalidations = (
            tier.invalidate("ns", "k"),
            tier.invalidate_prefix("ns", "c/"),
            tier.clear("ns"),
            tier.clear(),
        )
        for invalidation in invalidations:
            await invalidation
            assert wakes.next(2) == 1
        assert wakes.next(0.3) is None  # once each
    finally:
        watch.close()
        await tier.aclose()
    assert not watch.alive
    assert eventually(lambda: subscribers(redis_url, tier.channel("ns")) == 0)


def test_a_watch_wakes_when_it_loses_the_server_and_after_it_subscribes_again(
    own_redis_server: RedisServer,
) -> None:
    url, channel = own_redis_server.url, "watched:changed:ns"
    wakes = Wakes(url, channel)
    watch = RedisWatch(url, channel, wakes)
    try:
        assert wakes.next(5) == 1
        own_redis_server.kill()
        assert wakes.next(2) == -1  # the loss
        own_redis_server.start()
        assert eventually(lambda: subscribers(url, channel) == 1)
        time.sleep(0.3)
        assert wakes.drain()[-1] == 1  # the last wake-up came after the subscription was back
        with redis.Redis.from_url(url) as client:
            client.publish(channel, "1")
        assert wakes.next(2) == 1
    finally:
        watch.close()
    assert not watch.alive


def test_a_watch_finds_a_server_that_stopped_answering_by_its_heartbeat(
    own_redis_server: RedisServer,
) -> None:
    url, channel = own_redis_server.url, "watched:changed:ns"
    woken: queue.SimpleQueue[float] = queue.SimpleQueue()
    watch = RedisWatch(url, channel, lambda: woken.put(time.monotonic()), heartbeat=0.2)
    try:
        woken.get(timeout=5)
        own_redis_server.pause()  # the connection stays up, but nothing answers
        paused = time.monotonic()
        try:
            assert woken.get(timeout=5) - paused < 2.0
        finally:
            own_redis_server.resume()
        assert eventually(lambda: subscribers(url, channel) == 1)
    finally:
        watch.close()
    assert not watch.alive


# -- a watch ends with its cache -----------------------------------------------------------------


def redis_cache(url: str, prefix: str, path: Path) -> tuple[CacheStore, str]:
    """A cache on the Redis tier at ``url``, and the channel its watch listens to."""
    store = CacheStore(
        LocalStore(str(path)),
        cache_store=RedisStore(url, prefix=prefix),
        namespace="ns",
        memory_size=4096,
    )
    return store, store._engine.shared.tier.channel("ns")  # type: ignore[union-attr]


def test_closing_the_store_stops_its_watch_and_closes_its_connection(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    before = watch_threads()
    store, channel = redis_cache(redis_url, redis_prefix, tmp_path)
    assert len(watch_threads()) == len(before) + 1
    assert eventually(lambda: subscribers(redis_url, channel) == 1)
    store.close()
    assert watch_threads() == before
    assert eventually(lambda: subscribers(redis_url, channel) == 0)
    store.close()  # again: nothing left to stop


def test_a_cache_the_process_lets_go_takes_its_watch_along(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    before = watch_threads()
    store, channel = redis_cache(redis_url, redis_prefix, tmp_path)
    copy = pickle.loads(pickle.dumps(store))  # kept by the process for keep_alive seconds
    assert copy._engine is store._engine
    assert eventually(lambda: subscribers(redis_url, channel) == 1)
    release(store._config.identity)
    del store, copy
    gc.collect()
    assert watch_threads() == before
    assert eventually(lambda: subscribers(redis_url, channel) == 0)


def test_a_disk_tier_is_polled_without_a_watch(tmp_path: Path) -> None:
    before = watch_threads()
    store = CacheStore(
        LocalStore(str(tmp_path / "data")),
        cache_store=LocalStore(str(tmp_path / "cache")),
        memory_size=4096,
    )
    assert watch_threads() == before
    store.close()


# -- OS processes --------------------------------------------------------------------------------


class Worker:
    """A :func:`tier_workers.cache_worker` in a process of its own, one command at a time."""

    def __init__(self, url: str, data: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.commands, self.replies = context.Queue(), context.Queue()
        self.process = context.Process(
            target=cache_worker, args=(url, str(data), self.commands, self.replies)
        )
        self.process.start()

    def ask(self, *command: object) -> object:
        self.commands.put(command)
        return self.replies.get(timeout=60)

    def stop(self) -> None:
        self.commands.put(None)
        self.process.join(30)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
        assert self.process.exitcode == 0


@contextmanager
def workers(url: str, data: Path, count: int) -> Iterator[list[Worker]]:
    started = [Worker(url, data) for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def test_a_write_in_one_process_reaches_the_others_memory_within_a_second(
    own_redis_server: RedisServer, tmp_path: Path
) -> None:
    with workers(own_redis_server.url, tmp_path, 2) as (reader, writer):
        writer.ask("write", "k", b"v1")
        assert reader.ask("read", "k") == b"v1"
        assert reader.ask("read", "k") == b"v1"  # from its memory tier, polled once a minute
        for value in (b"v2", b"v3", b"v4"):
            writer.ask("write", "k", value)
            assert reader.ask("await", "k", value, 1.0) is not None


def test_after_a_server_restart_no_process_serves_a_stale_value(
    own_redis_server: RedisServer, tmp_path: Path
) -> None:
    url = own_redis_server.url
    channel = f"watched:__tier__/changed:{NAMESPACE}"
    with workers(url, tmp_path, 2) as (reader, writer):
        writer.ask("write", "k", b"v1")
        assert reader.ask("read", "k") == b"v1"
        assert eventually(lambda: subscribers(url, channel) == 2)
        own_redis_server.restart()
        writer.ask("write", "k", b"v2")  # whether or not the reader has subscribed again
        assert reader.ask("await", "k", b"v2", 1.0) is not None
        assert reader.ask("read", "k") == b"v2"  # held in memory again
        assert eventually(lambda: subscribers(url, channel) == 2)
        writer.ask("write", "k", b"v3")  # told through the new subscription
        assert reader.ask("await", "k", b"v3", 1.0) is not None
