"""The clock of a bot process: APScheduler's jobs and the delivery worker, run while this process leads.

Every process handles the updates it gets; only the leader (scheduler/leader.py) runs the
scheduled jobs (reminders, the theme day, housekeeping) and the delivery worker. The worker runs
with the leader, not in every process, because Telegram's limits (30 messages a second, one a
second per chat) are per bot: one pacer must see every send. The claim still uses SKIP LOCKED,
so a second worker started by hand (a benchmark, an operator) never takes the same row, and the
rows a dead leader left `sending` are sent again by the next leader.

    runner = Runner(Leadership(db.engine), worker=DeliveryWorker(...), timezone=settings.tz)
    runner.add_job(remind_half_time, "interval", minutes=1, args=[db])
    task = asyncio.create_task(runner.run()); …; await runner.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import tzinfo
from typing import Any, Protocol, Sequence

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from scheduler.delivery import DeliveryWorker
from scheduler.leader import Leadership

log = logging.getLogger(__name__)



class Worker(Protocol):
    """A delivery worker: Telegram's (scheduler/delivery.py) or another channel's (wechat/delivery.py)."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class Runner:
    def __init__(self, leadership: Leadership, *, worker: DeliveryWorker | None = None,
                 also: Sequence[Worker] = (), timezone: tzinfo | str = "Asia/Shanghai",
                 stop_timeout: float = 30.0) -> None:
        """`worker`: Telegram's delivery; `also`: other channels' delivery workers, run beside it."""
        self.leadership = leadership
        self.worker = worker
        self.workers: list[Worker] = [w for w in (worker, *also) if w is not None]
        self.scheduler = AsyncIOScheduler(timezone=timezone)
        self.stop_timeout = stop_timeout
        self.leading = asyncio.Event()  # set while this process leads (tests and health checks)
        self._task: asyncio.Task[None] | None = None

    def add_job(self, func: Any, trigger: Any = None, **kwargs: Any):
        """An APScheduler job (same arguments as `AsyncIOScheduler.add_job`), run only while leading."""
        return self.scheduler.add_job(func, trigger, **kwargs)

    async def run(self) -> None:
        self._task = asyncio.current_task()
        self.scheduler.start(paused=True)
        try:
            while True:
                await self.leadership.acquire()
                log.info("this process leads: scheduled jobs and delivery run here")
                await self._lead()
                log.warning("this process no longer leads; waiting to lead again")
        finally:
            self.scheduler.shutdown(wait=False)
            await self.leadership.dispose()

    async def _lead(self) -> None:
        self.leading.set()
        self.scheduler.resume()
        lost = asyncio.create_task(self.leadership.lost())
        working = [(worker, asyncio.create_task(worker.run())) for worker in self.workers]
        try:
            await asyncio.wait([lost, *(task for _, task in working)], return_when=asyncio.FIRST_COMPLETED)
            for _, task in working:
                if task.done() and not task.cancelled() and task.exception():
                    log.error("a delivery worker stopped", exc_info=task.exception())
        finally:
            self.leading.clear()
            self.scheduler.pause()
            lost.cancel()
            await asyncio.gather(*(self._stop_worker(worker, task) for worker, task in working))
            await self.leadership.release()

    async def _stop_worker(self, worker: Worker, working: asyncio.Task[None]) -> None:
        worker.stop()  # finishes the send in flight, gives the rest of its batch back
        try:
            await asyncio.wait_for(asyncio.shield(working), self.stop_timeout)
        except (TimeoutError, asyncio.CancelledError):
            working.cancel()
        except Exception:
            pass

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


@contextlib.asynccontextmanager
async def running(runner: Runner) -> AsyncIterator[Runner]:
    """Run `runner` beside the block (the bot's polling), stop it after, and say if it had failed."""
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        await runner.stop()
        if task.done() and not task.cancelled() and task.exception():
            log.error("the scheduler stopped", exc_info=task.exception())
