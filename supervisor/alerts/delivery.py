"""One delivery loop per channel: takes due rows from the outbox in order, groups them into
one message, paces the channel, and decides on the answer: accepted (rows go), refused for
good (rows go, marked failed, the channel is reported failing), or retry later (5xx and
timeouts with exponential backoff; 429 after exactly the wait the platform asked for)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger

from supervisor.alerts.channels.base import Answer, Channel
from supervisor.alerts.config import DeliveryPolicy
from supervisor.alerts.outbox import Outbox, Pending

Settled = Callable[[str, list[Pending], Answer, str], Awaitable[None]]
MAX_RETRY_AFTER_S = 3600.0  # a platform asking for more than an hour is not answered literally


@dataclass
class ChannelHealth:
    last_ok_at: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    failing: bool = False  # the last attempt failed (429 is throttling, not failing)
    throttled_until: float | None = None
    delivered: int = 0
    failed: int = 0
    retries: int = 0

    def to_api(self) -> dict[str, Any]:
        return {"status": "failing" if self.failing else "ok",
                "lastDeliveryAt": _ms(self.last_ok_at), "lastError": self.last_error or None,
                "lastErrorAt": _ms(self.last_error_at), "delivered": self.delivered,
                "failed": self.failed, "retries": self.retries,
                "throttledUntil": _ms(self.throttled_until)}


def _ms(ts: float | None) -> int | None:
    return None if ts is None else round(ts * 1000)


class Deliverer:
    def __init__(self, channel: Channel, outbox: Outbox, policy: DeliveryPolicy,
                 group_window_s: float, on_settled: Settled | None = None) -> None:
        self.channel = channel
        self.on_settled = on_settled
        self.outbox = outbox
        self.policy = policy
        self.window = group_window_s
        self.health = ChannelHealth()
        self._wake = asyncio.Event()
        self._stopping = False
        self._sending = False
        self._last_sent = -1e9
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.channel.name

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name=f"alerts:{self.name}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 3.0) -> None:
        """Let a request in flight finish (so its answer is recorded), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        # the loop ends by itself after the request in flight; cancel it if that takes long
        await asyncio.wait({self._task}, timeout=grace)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def _sleep(self, seconds: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("alert delivery to {} failed; retrying in 5 s", self.name)
                await asyncio.sleep(5)

    async def _step(self) -> None:
        self._wake.clear()
        due = await self.outbox.head_due(self.name)
        if due is None:
            await self._sleep(60)
            return
        if due > time.time():
            await self._sleep(due - time.time())
            return
        pace = self._last_sent + self.channel.interval_s - time.monotonic()
        if pace > 0:
            await asyncio.sleep(pace)
        now = time.time()
        batch = await self.outbox.batch(self.name, now + self.window,
                                        self.channel.config.max_batch)
        if not batch:
            return
        expired = [p for p in batch if now - p.created_at > self.policy.max_age / 1000]
        if expired:
            answer = Answer(False, detail=f"not accepted within "
                                          f"{self.policy.max_age / 3600000:g} h; given up")
            await self._settle(expired, answer, "failed")
            return
        self._sending = True
        try:
            answer = await self._send(batch)
            self._last_sent = time.monotonic()
            if answer.ok:
                await self._settle(batch, answer, "delivered")
            elif answer.permanent:
                await self._settle(batch, answer, "failed")
            else:
                wait = self._wait(answer, max(p.attempts for p in batch))
                await self._settle(batch, answer, "retry", time.time() + wait)
        finally:
            self._sending = False

    async def _send(self, batch: list[Pending]) -> Answer:
        try:
            return await self.channel.send([p.alert for p in batch])
        except Exception as exc:  # a bug in rendering: retrying the same input cannot help
            logger.exception("alert channel {} crashed rendering {}", self.name,
                             [p.alert.id for p in batch])
            return Answer(False, permanent=True, detail=f"channel crashed: {exc!r}"[:300])

    def _wait(self, answer: Answer, attempts: int) -> float:
        if answer.status == 429 and answer.retry_after is not None:
            wait = min(answer.retry_after, MAX_RETRY_AFTER_S)
            self.health.throttled_until = time.time() + wait
            return max(wait, self.channel.interval_s)
        base = self.policy.initial_delay / 1000 * (2 ** attempts)
        return float(min(base, self.policy.max_delay / 1000) * random.uniform(0.9, 1.1))

    async def _settle(self, batch: list[Pending], answer: Answer, outcome: str,
                      next_at: float | None = None) -> None:
        await self.outbox.settle(batch, answer, outcome, next_at)
        if self.on_settled is not None:
            await self.on_settled(self.name, batch, answer, outcome)
        h = self.health
        ids = [p.alert.id for p in batch]
        if outcome == "delivered":
            h.last_ok_at, h.failing, h.throttled_until = time.time(), False, None
            h.delivered += len(batch)
            logger.info("alerts {} delivered to {} in {:.0f} ms{}", ids, self.name,
                        answer.latency_ms, f" ({answer.detail})" if answer.detail else "")
            return
        h.last_error, h.last_error_at = answer.describe()[:300], time.time()
        if answer.status != 429:
            h.failing = True
        if outcome == "failed":
            h.failed += len(batch)
            logger.error("alerts {} could not be delivered to {}: {}", ids, self.name,
                         answer.describe())
        else:
            h.retries += 1
            logger.warning("alerts {} to {}: {}; next try in {:.1f} s", ids, self.name,
                           answer.describe(), (next_at or time.time()) - time.time())
