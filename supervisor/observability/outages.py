"""An outage of something the daemon depends on (the shared store; Redis may follow): one
stored error of the daemon's own when it begins, one alert ("firing"), and when it ends the
error is marked recovered and a "recovered" alert follows, threaded under the first by the
outage's correlation id. Repeated failures in between are counted, not stored again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from supervisor.core.events import EventBus
from supervisor.core.taxonomy import Classification
from supervisor.store.database import Store

SELF = "soulfra-supervisor"
Report = Callable[..., dict[str, Any] | None]


class OwnOutage:
    def __init__(self, what: str, c: Classification, report: Report, bus: EventBus,
                 store: Store) -> None:
        self.what = what
        self.c = c
        self._report = report
        self._bus = bus
        self._store = store
        self.since: float | None = None
        self.reason = ""
        self.failures = 0
        self.outages = 0
        self._cid: str | None = None
        self._error_id: str | None = None

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, reason: str) -> None:
        """One more failure to reach it; the first of an outage is stored and alerted."""
        self.failures += 1
        self.reason = reason
        if self.since is not None:
            return
        self.since, self.outages = time.time(), self.outages + 1
        self._cid = "OUT_" + secrets.token_hex(6)
        message = f"{self.what} unreachable: {reason}"
        logger.bind(correlation_id=self._cid).warning("{}", message)
        row = self._report(self.c, message, correlation_id=self._cid, outage=self.what)
        self._error_id = row["id"] if row else None
        self._bus.publish("own_outage", SELF, self._cid, what=self.what, since=self.since,
                          message=message,
                          severity=str(self.c.severity), category=str(self.c.category),
                          errorType=self.c.type, errorId=self._error_id)

    async def ok(self) -> None:
        """It answers again: the outage's error is recovered, and people are told."""
        if self.since is None:
            return
        downtime = round((time.time() - self.since) * 1000)
        cid, error_id = self._cid, self._error_id
        self.since, self._cid, self._error_id = None, None, None
        logger.bind(correlation_id=cid).info("{} reachable again after {} ms", self.what,
                                             downtime)
        if error_id is not None:
            await self._store.update_error(error_id, recovered=1, recovery_time_ms=downtime)
        self._bus.publish("own_outage_cleared", SELF, cid, what=self.what, downtimeMs=downtime)

    def to_dict(self) -> dict[str, Any] | None:
        if self.since is None:
            return None
        return {"since": round(self.since * 1000), "reason": self.reason,
                "correlationId": self._cid}
