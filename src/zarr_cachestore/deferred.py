"""The cache-store work that cannot be done under the lock: writes in flight and queued deletes.

Writes run as tasks of their own. The caller awaits them through a shield, so a cancelled
caller never abandons a write half-way: the write finishes, and its completion callback
settles the books whatever happened to the caller. Deletes are queued by name and drained by
whichever operation comes next; a delete that is cancelled stays queued, and one that fails is
tried again by the first drain a second or more later.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from zarr_cachestore.stats import Faults

if TYPE_CHECKING:
    from zarr.core.buffer import Buffer

    from zarr_cachestore.tiers import Tier

__all__ = ["Deferred"]

T = TypeVar("T")
RETRY_AFTER = 1.0  # seconds before failed deletes are tried again


class Deferred:
    """Background tasks and queued deletes of one cache."""

    def __init__(self, tier: Tier, lock: threading.Lock, faults: Faults) -> None:
        self.tier = tier
        self.lock = lock
        self.faults = faults
        self.doomed: deque[str] = deque()  # names to delete from the tier
        self.failed: list[str] = []  # names whose delete failed, tried again at ``retry_at``
        self.retry_at = 0.0
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def pending(self) -> bool:
        """Whether a drain has deletes to do now."""
        return bool(self.doomed) or (bool(self.failed) and time.monotonic() >= self.retry_at)

    def doom(self, name: str) -> None:
        """Delete ``name`` from the tier: at once if it can, else queued. Under the lock."""
        if not self.tier.delete_now(name):
            self.doomed.append(name)

    async def drain(self) -> None:
        """Delete every queued name once; the ones that fail are kept for a later drain."""
        failed = []
        with self.lock:
            if self.failed and time.monotonic() >= self.retry_at:
                self.doomed.extend(self.failed)
                self.failed.clear()
        while True:
            with self.lock:
                if not self.doomed:
                    break
                name = self.doomed.popleft()
            try:
                await self.tier.delete(name)
            except Exception as error:
                failed.append(name)
                with self.lock:
                    self.faults.cache_store(error, "delete a value")
            except BaseException:
                with self.lock:
                    self.doomed.appendleft(name)
                raise
        if failed:
            with self.lock:
                self.failed.extend(failed)
                self.retry_at = time.monotonic() + RETRY_AFTER

    def start(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``work`` as a task that outlives a cancelled caller."""
        return self._track(asyncio.get_running_loop().create_task(work))

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` to its end whatever happens to the caller: as a task of its own, whose
        outcome the caller awaits on a future of its own (so cancelling the caller cancels
        only that future). From Python 3.12 on the task starts at once and runs as far as it
        goes without waiting, often to its end: no trip through the event loop then."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        task = _started(loop, self._answering(work, answer))
        if task.done():
            _outcome(task)  # the caller gets it from ``answer``
        else:
            self._track(task)
        return await answer

    async def _answering(self, work: Coroutine[Any, Any, T], answer: asyncio.Future[T]) -> T:
        """Run ``work``, then end: its task is no longer under way, and ``answer`` gets its
        outcome."""
        try:
            result = await work
        except BaseException as error:
            self._ended(answer, error=error)
            raise
        self._ended(answer, result)
        return result

    def _ended(
        self, answer: asyncio.Future[T], result: Any = None, error: BaseException | None = None
    ) -> None:
        with self.lock:
            self.tasks.discard(asyncio.current_task())
        if answer.done():
            return  # the caller waiting on it was cancelled
        if error is None:
            answer.set_result(result)
        elif isinstance(error, asyncio.CancelledError):
            answer.cancel()
        else:
            answer.set_exception(error)

    def _track(self, task: asyncio.Task[T]) -> asyncio.Task[T]:
        with self.lock:
            self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def write(
        self, name: str, value: Buffer, settle: Callable[[BaseException | None], None]
    ) -> None:
        """Write ``value`` under ``name``; ``settle`` is called with the outcome in any case."""
        task = self.start(self.tier.set(name, value))
        task.add_done_callback(lambda done: settle(_outcome(done)))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception:
            pass  # settled and counted by ``settle``

    async def settle(self) -> None:
        """Wait for the background work started on this event loop, then drain the deletes."""
        loop = asyncio.get_running_loop()
        while True:
            with self.lock:
                pending = [task for task in self.tasks if task.get_loop() is loop]
            if not pending:
                break
            await asyncio.wait(pending)
        await self.drain()

    def _finished(self, task: asyncio.Task[Any]) -> None:
        with self.lock:
            self.tasks.discard(task)
        _outcome(task)  # its exception is reported where it matters, not as never retrieved


if sys.version_info >= (3, 12):

    def _started(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task that has run ``work``'s first step (as the current task) already."""
        return asyncio.Task(work, loop=loop, eager_start=True)

else:

    def _started(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task that runs ``work`` from the event loop's next turn."""
        return loop.create_task(work)


def _outcome(task: asyncio.Task[Any]) -> BaseException | None:
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception()
