"""Storm control: a service whose messages come too often (flap_max_messages within
flap_window) gets one "flapping" notice, and its further messages are held until it has been
quiet for the window."""

from __future__ import annotations

import time
from collections import deque

from supervisor.alerts.message import Alert, human_ms


class FlapGuard:
    def __init__(self) -> None:
        self._sent: dict[str, deque[float]] = {}  # service -> times of its recent messages
        self._noticed: set[str] = set()  # flapping services already told about

    def flapping(self, service: str, window_ms: float, max_messages: int) -> bool:
        """Whether a message of this service now is one too many; counts it when it is not."""
        window = window_ms / 1000
        times = self._sent.setdefault(service, deque())
        now = time.time()
        while times and now - times[0] > window:
            times.popleft()
        if not times:
            self._noticed.discard(service)
        if len(times) >= max_messages:
            return True
        times.append(now)
        return False

    def first_notice(self, service: str) -> bool:
        """True once a flapping spell: when its "flapping" notice is to go out."""
        if service in self._noticed:
            return False
        self._noticed.add(service)
        return True


def flapping_notice(held: Alert, max_messages: int, window_ms: float) -> Alert:
    """The one notice, in place of the first message held."""
    window = human_ms(window_ms)
    return Alert(kind="flapping", service=held.service, severity=held.severity,
                 summary=f"changed state too often ({max_messages} "
                         f"messages within {window}); further messages are held "
                         f"until it is quiet for {window}",
                 correlation_id=held.correlation_id, state=held.state,
                 category=held.category, error_type=held.error_type,
                 check=held.check, detail=held.detail, link=held.link)
