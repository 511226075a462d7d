"""POST /api/monitoring/debug/faults: inject the daemon's own failures, to see them caught.

Only mounted when SOULFRA_FAULT_INJECTION=true (tests, demos); never on by default.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from supervisor.api.context import DAEMON
from supervisor.api.params import read_body

routes = web.RouteTableDef()


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fault: Literal["block_loop", "task_exception", "callback_exception", "stall_scheduler"]
    ms: int = Field(1500, ge=1, le=60_000)
    message: str = Field("", max_length=500, description="Added to the exception's text.")


def _blocking_work(seconds: float) -> None:
    """Stands for code that blocks the loop by mistake (a sync call in a coroutine)."""
    time.sleep(seconds)


async def _failing_task(message: str) -> None:
    raise RuntimeError(f"injected fault: a task failed and nobody awaited it {message}")


def _failing_callback(message: str) -> None:
    raise RuntimeError(f"injected fault: a callback raised {message}")


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
        sched = request.app[DAEMON].scheduler
        for task in list(sched._tasks.values()):
            task.cancel()
    return web.json_response({"injected": body.fault})
