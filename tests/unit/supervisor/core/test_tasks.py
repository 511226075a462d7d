"""Stopping a background loop whose first cancel is swallowed (as redis-py can do)."""

from __future__ import annotations

import asyncio

import pytest

from supervisor.core.tasks import cancel_and_wait

pytestmark = pytest.mark.timeout(10)


async def test_a_loop_that_swallows_the_first_cancel_is_stopped_by_the_second():
    rounds = 0
    swallowed = 0

    async def loop() -> None:
        nonlocal rounds, swallowed
        while True:
            rounds += 1
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what a library call did with the first cancel

    task = asyncio.create_task(loop(), name="renewer")
    await asyncio.sleep(0.05)
    await cancel_and_wait([task], again_after_s=0.05)
    assert task.cancelled() and swallowed == 1
    stopped_at = rounds
    await asyncio.sleep(0.05)
    assert rounds == stopped_at, "the loop ran on after cancel_and_wait returned"


async def test_a_task_that_never_stops_is_given_up_on_after_the_patience():
    giving_in = asyncio.Event()

    async def stubborn() -> None:
        while not giving_in.is_set():
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                pass

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0.01)  # inside its loop (a task cancelled before it starts just ends)
    await cancel_and_wait([task, None], again_after_s=0.05, patience_s=0.3)
    assert not task.done(), "given up on, not waited for forever"
    giving_in.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_failed_task_is_collected_without_raising():
    async def boom() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(boom())
    await asyncio.sleep(0)
    await cancel_and_wait([task])
    assert isinstance(task.exception(), RuntimeError)
