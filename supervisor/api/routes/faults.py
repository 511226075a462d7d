"""POST /api/monitoring/debug/faults: inject the daemon's own failures, to see them caught.

Only mounted when SOULFRA_FAULT_INJECTION=true (tests, demos); never on by default.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from supervisor.api.context import DAEMON
from supervisor.api.params import read_body
from supervisor.core.scheduler import Scheduler

routes = web.RouteTableDef()
FAULT_TASKS: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("fault_tasks")


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fault: Literal["block_loop", "task_exception", "callback_exception", "stall_scheduler",
                   "exhaust_fds"]
    ms: int = Field(1500, ge=1, le=60_000, description="How long the loop blocks, the check "
                    "loops keep dying (stall_scheduler) or the fds stay taken (exhaust_fds).")
    message: str = Field("", max_length=500, description="Added to the exception's text.")


def _blocking_work(seconds: float) -> None:
    """Stands for code that blocks the loop by mistake (a sync call in a coroutine)."""
    time.sleep(seconds)


async def _failing_task(message: str) -> None:
    raise RuntimeError(f"injected fault: a task failed and nobody awaited it {message}")


def _failing_callback(message: str) -> None:
    raise RuntimeError(f"injected fault: a callback raised {message}")


async def _kill_check_loops(scheduler: Scheduler, seconds: float) -> None:
    """Check loops that keep dying for `seconds` (a revived one dies again at once)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        scheduler.kill_loops()
        await asyncio.sleep(0.01)


async def _hold_every_fd(seconds: float) -> None:
    """Take every free file descriptor for `seconds`, and any that is freed meanwhile: the
    daemon at its fd limit."""
    held: list[int] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                while True:
                    held.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                pass
            await asyncio.sleep(0.005)
    finally:
        for fd in held:
            os.close(fd)


@routes.post("/api/monitoring/debug/faults")
async def inject(request: web.Request) -> web.Response:
    body = await read_body(request, Fault)
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, Fault)
    loop = asyncio.get_running_loop()
    if body.fault == "block_loop":
        _blocking_work(body.ms / 1000)
    elif body.fault == "task_exception":
        loop.create_task(_failing_task(body.message))  # dropped on purpose: "never retrieved"
    elif body.fault == "callback_exception":
        loop.call_soon(_failing_callback, body.message)
    elif body.fault == "stall_scheduler":
        _keep(request.app, _kill_check_loops(request.app[DAEMON].scheduler, body.ms / 1000))
    elif body.fault == "exhaust_fds":
        _keep(request.app, _hold_every_fd(body.ms / 1000))
    return web.json_response({"injected": body.fault})


def _keep(app: web.Application, coro: Coroutine[Any, Any, None]) -> None:
    """Run a lasting fault in the background, referenced until it ends."""
    task = asyncio.get_running_loop().create_task(coro, name="fault")
    app[FAULT_TASKS].add(task)
    task.add_done_callback(app[FAULT_TASKS].discard)
