"""Dependencies between services, as recovery sees them: a dependent is not restarted while
something it depends on is down, and fresh checks of the dependencies come before acting."""

from __future__ import annotations

from collections.abc import Mapping

from supervisor.core.scheduler import Scheduler
from supervisor.core.state import State, StateTracker
from supervisor.recovery.plan import ServicePlan


class Dependencies:
    def __init__(self, tracker: StateTracker, scheduler: Scheduler) -> None:
        self.tracker = tracker
        self.scheduler = scheduler
        self.plans: Mapping[str, ServicePlan] = {}

    def of(self, service: str) -> list[str]:
        """Every dependency, indirect ones included, nearest first."""
        seen: list[str] = []
        todo = list(self.plans[service].depends_on) if service in self.plans else []
        while todo:
            dep = todo.pop(0)
            if dep in seen or dep == service:
                continue
            seen.append(dep)
            todo.extend(self.plans[dep].depends_on if dep in self.plans else [])
        return seen

    def dependents_of(self, name: str) -> list[str]:
        return [n for n, p in self.plans.items() if name in p.depends_on]

    def failing(self, service: str) -> str | None:
        """A dependency that is down now, if any."""
        for dep in self.of(service):
            st = self.tracker.services.get(dep)
            if st is not None and st.state.is_down:
                return dep
        return None

    def all_up(self, service: str) -> bool:
        """Every dependency up, and its latest checks all passed."""
        deps = [self.tracker.services.get(d) for d in self.of(service)]
        return all(d is None or (d.state.is_up and all(r.ok for r in d.last_results))
                   for d in deps)

    async def recheck(self, service: str) -> tuple[str, str] | None:
        """Fresh evidence before acting: a dependency that looks up may just not have been
        checked since it broke (the dependent noticed first). Returns a dependency whose
        fresh check failed, even if below its own threshold, with the failure."""
        suspect = None
        for dep in self.of(service):
            st = self.tracker.services.get(dep)
            if st is None or st.state.is_down or st.state is State.MAINTENANCE:
                continue
            results = await self.scheduler.run_service(dep)
            failed = next((r for r in results if not r.ok and r.check_type), None)
            if failed is not None and suspect is None:
                suspect = (dep, failed.message or str(failed.kind))
        return suspect
