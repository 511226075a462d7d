"""What a recovery strategy is handed to act with (a RecoveryContext): the service's process
spec, the clients, the state of other services, and a way to reset its own checks' connections.

Separate because three callers build one (the runner for each attempt, a dry run, undoing a
temporary step once healthy) and none of them needs to know what goes into it.
"""

from __future__ import annotations

from collections.abc import Mapping

from recovery_strategies.base import RecoveryContext
from supervisor.clients.docker import DockerClient
from supervisor.clients.http import HttpClient
from supervisor.clients.redis import RedisConnections
from supervisor.core.scheduler import Scheduler
from supervisor.core.state import StateTracker
from supervisor.processes.manager import ProcessManager
from supervisor.recovery.plan import ServicePlan
from supervisor.recovery.run import RecoveryRun


class StrategyContexts:
    def __init__(self, *, tracker: StateTracker, scheduler: Scheduler,
                 processes: ProcessManager, http: HttpClient, redis: RedisConnections,
                 docker: DockerClient | None, data_dir: str,
                 plans: Mapping[str, ServicePlan]) -> None:
        self.tracker = tracker
        self.scheduler = scheduler
        self.processes = processes
        self.http = http
        self.redis = redis
        self.docker = docker
        self.data_dir = data_dir
        self.plans = plans

    def build(self, run: RecoveryRun | None, service: str, attempt: int = 1,
              dry_run: bool = False) -> RecoveryContext:
        plan = self.plans.get(service)

        def state_of(name: str) -> str | None:
            st = self.tracker.services.get(name)
            return str(st.state) if st is not None else None

        async def reset_own() -> list[str]:
            rt = self.scheduler.services.get(service)
            closed = []
            for check in rt.checks if rt is not None else []:
                await check.close()
                closed.append(check.name)
            return closed

        return RecoveryContext(
            service=service, correlation_id=(run.correlation_id if run else None) or "",
            processes=self.processes, http=self.http, attempt=attempt, dry_run=dry_run,
            data_dir=self.data_dir, process_spec=plan.process_spec if plan else None,
            state_of=state_of, redis=self.redis, reset_own_connections=reset_own,
            docker=self.docker)
