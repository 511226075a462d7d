"""Tells a service's failure from the daemon's own trouble.

A check can fail for reasons that are the daemon's, not the service's: the daemon had no free
file descriptor (EMFILE/ENFILE: its socket could not even be opened), or its event loop ran so
late that the check's timeout fired long after it was due (a blocked loop, CPU starvation: the
answer may have been waiting in the socket, and a late loop runs an expired timer before it
reads a socket; the lean http probe says when an answer was waiting, `answerWaiting`). Such a
result is *inconclusive*: it is not counted toward errorThreshold (the state tracker skips it),
it is recorded as the daemon's own error, and the service is simply checked again at its next
interval, when the daemon may be well.
"""

from __future__ import annotations

import errno
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from health_checks.base import CheckKind, CheckResult
from supervisor.core.taxonomy import CHECK_INCONCLUSIVE_FDS, CHECK_INCONCLUSIVE_LAG, Classification

# A timeout that fired this much after it was due (or while the loop lagged this much) was
# late because of the daemon: max(LATE_MIN_S, LATE_FRACTION x the check's timeout).
LATE_MIN_S = 0.25
LATE_FRACTION = 0.25
# One error per reason at most this often; the checks in between are counted into it.
REPORT_EVERY_S = 10.0
_FD_ERRORS = tuple(os.strerror(e) for e in (errno.EMFILE, errno.ENFILE))
_OUR_SOCKET_FAILURES = (CheckKind.REFUSED, CheckKind.STALLED, CheckKind.CONNECTION_LOST)

Report = Callable[..., object]


def fds_exhausted() -> bool:
    """True when the daemon cannot open one more file right now."""
    try:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        return exc.errno in (errno.EMFILE, errno.ENFILE)
    os.close(fd)
    return False


class OwnTrouble:
    """Judges failed check results; owned by the self-watch, called by the scheduler."""

    def __init__(self, report: Report, max_lag_ms_since: Callable[[float], float]) -> None:
        self._report = report
        self._max_lag_ms_since = max_lag_ms_since
        self.by_reason: Counter[str] = Counter()
        self._unreported: dict[str, list[str]] = {}
        self._reported_at: dict[str, float] = {}

    def judge(self, service: str, timeout_s: float, result: CheckResult,
              started: float) -> CheckResult:
        """The result as it was, or an inconclusive one when the daemon caused the failure.
        `started` is the monotonic time the check began."""
        if result.ok:
            return result
        elapsed = time.monotonic() - started
        late_by = max(LATE_MIN_S, LATE_FRACTION * timeout_s)
        reason, why = None, ""
        # EMFILE quoted by a failed connect is ours; quoted in a service's answer (an HTTP 500
        # body), it is the service's own trouble, so only the probe counts for those.
        ours = result.kind in _OUR_SOCKET_FAILURES and any(t in result.message
                                                            for t in _FD_ERRORS)
        if ours or fds_exhausted():
            reason, why = "fds", "the supervisor has no free file descriptor"
        elif result.kind is CheckKind.STALLED:
            lag_s = self._max_lag_ms_since(started) / 1000
            waiting = bool(result.details.get("answerWaiting"))
            if elapsed > timeout_s + late_by or lag_s >= late_by or waiting:
                reason = "loop_lag"
                why = (f"the supervisor's own event loop was late (timeout of "
                       f"{timeout_s * 1000:.0f} ms fired after {elapsed * 1000:.0f} ms, loop lag "
                       f"{lag_s * 1000:.0f} ms"
                       f"{', the answer already waiting unread' if waiting else ''})")
        if reason is None:
            return result
        self.by_reason[reason] += 1
        self._note(reason, f"{service}/{result.check}", why, result)
        return CheckResult(
            kind=CheckKind.INCONCLUSIVE, latency_ms=result.latency_ms,
            message=f"inconclusive: {why} ({result.kind}: {result.message})",
            check=result.check, check_type=result.check_type,
            details={**result.details, "reason": reason, "originalKind": str(result.kind)},
            at=result.at)

    def _note(self, reason: str, where: str, why: str, result: CheckResult) -> None:
        names = self._unreported.setdefault(reason, [])
        names.append(where)
        now = time.monotonic()
        if now - self._reported_at.get(reason, -REPORT_EVERY_S) < REPORT_EVERY_S:
            return
        self._reported_at[reason] = now
        c: Classification = CHECK_INCONCLUSIVE_FDS if reason == "fds" else CHECK_INCONCLUSIVE_LAG
        shown = sorted(set(names))
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        self._report(c, f"{len(names)} check(s) inconclusive, not counted against the service: "
                        f"{why}; {', '.join(shown[:5])}{more}",
                     stack=None, reason=reason, checks=len(names), firstMessage=result.message)
        names.clear()

    def to_dict(self) -> dict[str, Any]:
        return {"total": sum(self.by_reason.values()), "byReason": dict(self.by_reason)}
