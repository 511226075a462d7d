"""Is a repair real? A recovery attempt counts only when the service's checks pass again."""

from __future__ import annotations

import asyncio
import time

from supervisor.core.scheduler import Scheduler
from supervisor.core.state import StateTracker
from supervisor.processes.manager import ProcessManager

VERIFY_POLL_S = 0.25


async def verify_healthy(service: str, pid: int | None, grace_s: float, *,
                         scheduler: Scheduler, tracker: StateTracker,
                         processes: ProcessManager) -> tuple[bool, str]:
    """Check again until the service is up, within the startup grace; fail at once when the
    process that the attempt started (`pid`) exits meanwhile."""
    started = time.monotonic()
    deadline = started + grace_s
    while True:
        await scheduler.run_service(service)
        st = tracker.get(service)
        if st.state.is_up:
            return True, f"verified healthy after {time.monotonic() - started:.1f} s"
        if pid is not None and processes.pid_of(service, None) != pid:
            return False, f"process {pid} exited during startup"
        if time.monotonic() >= deadline:
            why = st.last_failure.message if st.last_failure else "still failing"
            return False, f"not healthy within the startup grace ({grace_s:g} s): {why}"
        await asyncio.sleep(VERIFY_POLL_S)
