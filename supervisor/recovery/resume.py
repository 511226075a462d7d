"""After a restart: services that were down resume their open incidents from the store.

A service that was down (failing, recovering or given up on) when the daemon stopped is still
down until a check says otherwise: it resumes under the same correlation id, so the incident,
its error and its recovery time carry on instead of starting anew. It is checked at once; if it
still fails, automatic recovery is asked for, and the recovery manager decides as it would
have (its circuit breaker, backoff level and pauses are restored by RecoveryManager.load: a
service given up on is skipped and given up on again, not restarted). An interrupted recovery
is finished this way, as for a service that just failed: a process that the daemon's start
adopted or started is left to boot within its startup grace, and the checks run again right
before anything is done, so the service is never started twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from loguru import logger

from supervisor.core.incidents import IncidentRecorder
from supervisor.core.state import State, StateTracker
from supervisor.store.database import Store

if TYPE_CHECKING:
    from supervisor.core.scheduler import Scheduler
    from supervisor.recovery.manager import RecoveryManager


async def resume_states(store: Store, tracker: StateTracker,
                        incidents: IncidentRecorder) -> list[str]:
    """Restore what the store knows; returns the services to check and recover again."""
    recheck: list[str] = []
    for row in await store.transitions(time.time()):  # each service's last transition
        st = tracker.services.get(row["service"])
        if st is None or st.state is not State.UNKNOWN:  # a pause restored it already
            continue
        try:
            state = State(row["state"])
        except ValueError:
            continue
        corr = row["correlation_id"]
        if state.is_down and corr:
            errors = await store.errors_for_incident(corr)
            st.state, st.since, st.correlation_id = State.FAILING, row["at"], corr
            st.incident_started = errors[0]["created_at"] if errors else row["at"]
            st.consecutive_failures = st.thresholds.errors
            if errors:
                incidents.resume(corr, errors[0]["id"])
            recheck.append(st.name)
            logger.bind(correlation_id=corr).info(
                "{}: resuming its open incident (it was {} when the daemon stopped)",
                st.name, state)
    return recheck


async def recheck(name: str, *, scheduler: Scheduler, tracker: StateTracker,
                  recovery: RecoveryManager, checks_scheduled: bool) -> None:
    """Once a resumed service has been checked, recover it if it still fails."""
    rt = scheduler.services.get(name)
    if rt is None:
        return
    if checks_scheduled:
        # Its first scheduled check (within 2 s) decides: an extra check here would shift the
        # rhythm of its probes (a service given up on is probed slowly from then on).
        # (polls: no event marks a service's first run)
        while rt.runs == 0 and scheduler.services.get(name) is rt:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    else:
        await scheduler.run_service(name)
    st = tracker.services.get(name)
    if st is not None and st.state is State.FAILING and recovery.auto_enabled:
        try:
            await recovery.recover_resumed(name)
        except Exception:
            logger.exception("{}: cannot resume its recovery", name)
