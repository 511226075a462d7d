"""Shared services waiting for their cluster lease: another node holds it, or Redis does not
answer. Each waiting service asks again every LEASE_RETRY_S while it still fails here, and the
status board (`leases`) shows who waits and why.

Separate because it is a loop with state of its own (who waits, the last reason given); the
manager only decides that a denied automatic recovery should wait, and what to do after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from supervisor.core.state import State, StateTracker
from supervisor.recovery.locks import RecoveryLock
from supervisor.recovery.run import RecoveryRun

LEASE_RETRY_S = 0.5  # how often a shared service waiting for its cluster lease asks again


class LeaseWaits:
    def __init__(self, *, tracker: StateTracker, lock: RecoveryLock,
                 active: Mapping[str, RecoveryRun],
                 when_free: Callable[[str], Awaitable[None]]) -> None:
        self.tracker = tracker
        self.lock = lock
        self.active = active
        self.when_free = when_free  # what to do once the lease may be had
        self.reasons: dict[str, str] = {}  # service -> why its last lease request waits
        self._asking: set[str] = set()  # shared services asking for their lease again

    def denied(self, service: str, reason: str) -> None:
        self.reasons[service] = reason

    def granted(self, service: str) -> None:
        self.reasons.pop(service, None)

    async def wait(self, service: str) -> None:
        """Ask again while the service is still failing here, until the lease is free (the
        holder finished, or died and its lease expired) or Redis answers again."""
        if service in self._asking:
            return
        self._asking.add(service)
        try:
            while True:
                await asyncio.sleep(LEASE_RETRY_S)
                st = self.tracker.services.get(service)
                if st is None or st.state is not State.FAILING or service in self.active:
                    self.reasons.pop(service, None)
                    return
                if await self.lock.may_try(service):
                    break
        finally:
            self._asking.discard(service)
        await self.when_free(service)

    def status(self) -> dict[str, Any]:
        """The lock's state and the services waiting for a lease (status, `leases`)."""
        waiting = {s: why for s, why in self.reasons.items() if s in self._asking}
        return {**self.lock.summary(), "waiting": waiting}
