"""Is a repair real? A recovery attempt counts only when a fresh round of the service's checks
passes against the new process (the state alone proves nothing: one failed round does not move
a service that an older check found healthy)."""

from __future__ import annotations

import asyncio
import time

from supervisor.core.scheduler import Scheduler
from supervisor.core.state import StateTracker, counted_failure
from supervisor.processes.manager import ProcessManager
from supervisor.processes.spec import ProcessSpec

VERIFY_POLL_S = 0.25
# A round of checks that failed at most this long ago, with none finished since, is the fresh
# evidence an automatic recovery without a wait acts on (docs/recovery.md, "Right before
# acting"): a second round against a service that does not answer cost a whole timeout more.
FRESH_EVIDENCE_S = 1.0


async def passes_now(service: str, scheduler: Scheduler) -> bool:
    """A fresh round of the service's checks passed (an inconclusive one does not)."""
    results = await scheduler.run_service(service)
    return bool(results) and all(r.ok for r in results)


async def passes_before_acting(service: str, scheduler: Scheduler, begun: float) -> bool:
    """Fresh evidence right before an automatic recovery acts (one that waited no backoff):
    the latest round if it failed (a failure that counts) within FRESH_EVIDENCE_S; else the
    round in flight if it started after the recovery began at `begun` (monotonic), joined
    rather than followed by a second; else a fresh round. A passing round is never taken
    from before the recovery began: the failure may have come since (a push signal)."""
    last = scheduler.last_round(service)
    if last is not None and time.monotonic() - last[0] <= FRESH_EVIDENCE_S \
            and counted_failure(last[1]) is not None:
        return False
    joined = await scheduler.join_round(service, begun)
    if joined is not None:
        return bool(joined) and all(r.ok for r in joined)
    return await passes_now(service, scheduler)


async def verify_healthy(service: str, pid: int | None, grace_s: float, *,
                         scheduler: Scheduler, tracker: StateTracker,
                         processes: ProcessManager,
                         spec: ProcessSpec | None = None) -> tuple[bool, str]:
    """Check again until a round of checks passes, within the startup grace; fail at once
    when the process that the attempt started (`pid`) exits meanwhile, or, for a step that
    starts none (a file repaired, a stale lock removed), when the service's process that the
    daemon runs is not running at all: waiting the grace for it cannot help, the next step
    (a restart) can."""
    started = time.monotonic()
    deadline = started + grace_s
    while True:
        passed = await passes_now(service, scheduler)
        st = tracker.get(service)
        if pid is not None and processes.pid_of(service, None) != pid:
            return False, f"process {pid} exited during startup"
        if passed:
            return True, f"verified healthy after {time.monotonic() - started:.1f} s"
        if pid is None and spec is not None and service in processes.started_at and \
                processes.pid_of(service, spec) is None:
            return False, f"no process of {service} is running (this step starts none)"
        if time.monotonic() >= deadline:
            why = st.last_failure.message if st.last_failure else "still failing"
            return False, f"not healthy within the startup grace ({grace_s:g} s): {why}"
        await asyncio.sleep(VERIFY_POLL_S)
