"""The disk tier shared by OS processes on one directory: values, budget and invalidations are
one for all of them, and a process killed in the middle of a put leaves nothing torn."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import disk_workers
from disk_workers import directory_bytes, listed, temp_files, value_of
from zarr_cachestore.disk_tier import DiskTier

spawn = multiprocessing.get_context("spawn")


def start(function: Callable[..., None], *args: Any) -> multiprocessing.process.BaseProcess:
    process = spawn.Process(target=function, args=args)
    process.start()
    return process


def finish(*processes: multiprocessing.process.BaseProcess) -> None:
    for process in processes:
        process.join(60)
        assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"


async def put(tier: DiskTier, key: str, value: bytes) -> bool:
    return await tier.put("ns", key, value, token=await tier.begin("ns", key), deadline=None)


async def test_a_value_one_process_puts_is_a_hit_for_another(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path, max_size=2**20)
    mine = [f"parent/{i}" for i in range(3)]
    for key in mine:
        assert await put(tier, key, value_of(key, 5000))
    theirs = [f"child/{i}" for i in range(3)]
    finish(
        start(disk_workers.put_values, tmp_path, 2**20, "ns", theirs, 5000),
        start(disk_workers.expect_values, tmp_path, 2**20, "ns", mine, 5000),
    )
    for key in theirs:
        assert await tier.get("ns", key) == value_of(key, 5000)


def bytes_while_stopped(path: Path, processes: list[multiprocessing.process.BaseProcess]) -> int:
    """The bytes of the value files at one instant: the processes that change them are stopped
    (SIGSTOP) while the directory is walked, wherever they are in their work."""
    running = [process.pid for process in processes if process.is_alive() and process.pid]
    for pid in running:
        os.kill(pid, signal.SIGSTOP)
    for pid in running:  # the signal is delivered asynchronously: wait until it took effect
        while Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] not in "TtZX":
            time.sleep(0)
    try:
        return directory_bytes(path)
    finally:
        for pid in running:
            os.kill(pid, signal.SIGCONT)


async def test_two_processes_keep_one_budget(tmp_path: Path) -> None:
    max_size = 64 * 1024
    tier = DiskTier(tmp_path, max_size)
    sizes = [1000, 9000, 5000, 15000]
    writers = [
        start(disk_workers.put_stream, tmp_path, max_size, prefix, 100, sizes)
        for prefix in ("first/", "second/")
    ]
    samples = []
    deadline = time.monotonic() + 120
    while any(writer.is_alive() for writer in writers):
        assert time.monotonic() < deadline, "the writers did not finish in two minutes"
        samples.append(bytes_while_stopped(tmp_path, writers))
        time.sleep(0.01)  # let the writers run between two instants
    finish(*writers)
    assert len(samples) > 10
    assert max(samples) <= max_size
    info = await tier.info()
    assert info["bytes"] == directory_bytes(tmp_path) <= max_size
    assert info["bytes"] > max_size - max(sizes)  # full: evictions made room, no more
    assert info["reserved"] == 0


async def test_an_invalidation_by_one_process_reaches_the_others(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path, max_size=2**20)
    assert await put(tier, "written", b"old")
    cursor, _ = await tier.changes("ns", None)
    token = await tier.begin("ns", "in-flight")
    finish(start(disk_workers.invalidate, tmp_path, 2**20, "ns", ["written", "in-flight"]))
    assert await tier.get("ns", "written") is None
    assert (await tier.changes("ns", cursor))[1] == ["written", "in-flight"]
    assert not await tier.put("ns", "in-flight", b"stale", token=token, deadline=None)


async def test_a_process_killed_while_writing_leaves_no_trace(tmp_path: Path) -> None:
    max_size = 100_000
    tier = DiskTier(tmp_path, max_size)
    assert await put(tier, "kept", value_of("kept", 30_000))
    dying = start(disk_workers.die_while_writing, tmp_path, max_size, "torn", 60_000)
    dying.join(60)
    assert dying.exitcode == -signal.SIGKILL
    assert len(temp_files(tmp_path)) == 1
    assert (await tier.info())["reserved"] == 60_000  # held for a writer not yet known dead

    reopened = DiskTier(tmp_path, max_size)
    assert temp_files(tmp_path) == []
    info = await reopened.info()
    assert (info["reserved"], info["bytes"], info["entries"]) == (0, 30_000, 1)
    assert await reopened.get("ns", "torn") is None
    assert await reopened.get("ns", "kept") == value_of("kept", 30_000)
    assert await put(tier, "fits", value_of("fits", 70_000))  # the room is free again


def stream_sizes() -> list[int]:
    return [64 * 1024, 200 * 1024, 8 * 1024, 130 * 1024]


async def kill_a_stream_of_puts_and_reopen(path: Path, seed: int) -> None:
    """Kill a process at a random moment of a stream of puts, then check what a new process
    finds: no torn value, the budget, and everything the index lists served warm."""
    max_size = 2 * 2**20
    sizes = stream_sizes()
    DiskTier(path, max_size).close()  # the index exists before the writer starts
    writer = start(disk_workers.put_stream, path, max_size, "k", 10_000, sizes)
    deadline = time.monotonic() + 60
    while len(listed(path)) < 3:
        assert time.monotonic() < deadline, "the writer stored nothing"
        time.sleep(0.01)
    time.sleep(random.Random(seed).uniform(0, 0.2))
    os.kill(writer.pid or 0, signal.SIGKILL)
    writer.join(60)
    assert writer.exitcode == -signal.SIGKILL

    tier = DiskTier(path, max_size)
    assert temp_files(path) == []
    info = await tier.info()
    assert info["reserved"] == 0
    assert info["bytes"] == directory_bytes(path) <= max_size
    keys = [key for _, key in listed(path)]
    assert keys
    for key in keys:
        size = sizes[int(key.removeprefix("k")) % len(sizes)]
        assert await tier.get("ns", key) == value_of(key, size)
    await tier.aclose()


async def test_a_process_killed_in_a_stream_of_puts_leaves_the_rest_warm(tmp_path: Path) -> None:
    await kill_a_stream_of_puts_and_reopen(tmp_path, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 11))
async def test_many_kills_in_a_stream_of_puts(tmp_path: Path, seed: int) -> None:
    for _ in range(3):  # the same directory through several crashes
        await kill_a_stream_of_puts_and_reopen(tmp_path, seed)
