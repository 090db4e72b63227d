"""``Deferred.run``: work that no cancelled caller can abandon, started at once where Python
can."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading

import pytest

from zarr_cachestore.deferred import Deferred
from zarr_cachestore.stats import Faults, Stats
from zarr_cachestore.tiers import MemoryTier


def deferred() -> Deferred:
    return Deferred(MemoryTier(), threading.Lock(), Faults(Stats()))


async def test_work_runs_as_a_task_of_its_own() -> None:
    """Whatever the work starts that belongs to the current task (a timeout, a timer that
    cancels it) belongs to the work's own task, never to its caller's."""
    caller = asyncio.current_task()

    async def work() -> asyncio.Task[object] | None:
        return asyncio.current_task()

    task = await deferred().run(work())
    assert task is not None
    assert task is not caller


@pytest.mark.skipif(sys.version_info < (3, 12), reason="tasks start eagerly from Python 3.12 on")
async def test_work_that_never_waits_is_done_before_the_event_loop_turns() -> None:
    runner = deferred()
    turns: list[str] = []
    asyncio.get_running_loop().call_soon(turns.append, "the loop turned")

    async def work() -> str:
        return "answer"

    assert await runner.run(work()) == "answer"
    assert turns == []
    assert not runner.tasks


async def test_work_that_waits_gets_the_answers_it_waits_for() -> None:
    runner = deferred()
    loop = asyncio.get_running_loop()

    async def work() -> list[int]:
        answers = []
        for value in (1, 2, 3):
            future = loop.create_future()
            loop.call_soon(future.set_result, value)
            answers.append(await future)
        await asyncio.sleep(0)  # a bare yield to the loop
        return answers

    assert await runner.run(work()) == [1, 2, 3]
    assert not runner.tasks


@pytest.mark.parametrize("wait_first", [False, True])
async def test_an_error_reaches_the_caller_and_is_reported_nowhere_else(wait_first: bool) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda loop, context: reported.append(context))

    async def work() -> None:
        if wait_first:
            await asyncio.sleep(0.001)
        raise KeyError("lost")

    runner = deferred()
    with pytest.raises(KeyError, match="lost"):
        await runner.run(work())
    await runner.settle()
    gc.collect()  # a future or task whose error nobody retrieved reports it when collected
    assert reported == []


async def test_work_finishes_after_its_caller_is_cancelled() -> None:
    runner = deferred()
    finished = asyncio.Event()

    async def work() -> str:
        await asyncio.sleep(0.01)
        finished.set()
        return "done"

    caller = asyncio.create_task(runner.run(work()))
    await asyncio.sleep(0.001)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert not finished.is_set()
    await asyncio.wait_for(finished.wait(), 5)
    await runner.settle()
    assert not runner.tasks


async def test_cancelling_the_task_itself_cancels_the_work_where_it_waits() -> None:
    runner = deferred()
    seen: list[str] = []

    async def work() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled while waiting")
            raise

    caller = asyncio.create_task(runner.run(work()))
    await asyncio.sleep(0.001)
    (task,) = runner.tasks
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert seen == ["cancelled while waiting"]
