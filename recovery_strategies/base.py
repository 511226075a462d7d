"""The shape every recovery strategy shares: a config model, a context, and `async run()`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from supervisor.clients.docker import DockerClient
    from supervisor.clients.http import HttpClient
    from supervisor.clients.redis import RedisConnections
    from supervisor.processes.manager import ProcessManager
    from supervisor.processes.spec import ProcessSpec


class StrategyConfig(BaseModel):
    """Fields every ladder step accepts. Subclasses add `strategy: Literal[...]` and their own."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True,
                              strict=True)

    attempts: int | None = Field(
        default=None, ge=1, le=100,
        description="Attempts of this step before the next one. Default: recovery.maxAttempts.",
    )


@dataclass(slots=True)
class RecoveryContext:
    service: str
    correlation_id: str
    processes: ProcessManager
    # The daemon's HTTP client (webhooks and repair hooks).
    http: HttpClient
    attempt: int = 1
    dry_run: bool = False
    data_dir: str = "."
    # The service's own process spec (for strategies that signal or find its pid).
    process_spec: ProcessSpec | None = None
    # Current state of any service by name ("healthy", "failing", ...; None when unknown).
    state_of: Callable[[str], str | None] = lambda _name: None
    # The daemon's shared Redis connections, and a hook that drops the service's own
    # connections (its checks') so that they are made anew.
    redis: RedisConnections | None = None
    reset_own_connections: Callable[[], Awaitable[list[str]]] | None = None
    # The daemon's Docker Engine API client (restart_container).
    docker: DockerClient | None = None


@dataclass(slots=True)
class Outcome:
    ok: bool
    message: str
    output: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, "output": self.output,
                "details": self.details}


class RecoveryStrategy:
    name: ClassVar[str]
    config_model: ClassVar[type[StrategyConfig]]
    supports_dry_run: ClassVar[bool] = True
    # False for a step that helps without healing the service itself (failover): its success
    # is not verified by re-checking the service.
    verifies_service: ClassVar[bool] = True

    def __init__(self, config: StrategyConfig, service: str) -> None:
        self.config = config
        self.service = service

    def plan(self) -> str:
        """One line saying what `run` would do; shown for dry runs."""
        return f"{self.name} for {self.service}"

    async def run(self, ctx: RecoveryContext) -> Outcome:  # pragma: no cover - interface
        raise NotImplementedError

    async def on_healthy(self, ctx: RecoveryContext) -> Outcome | None:
        """Called when the service is up again; a strategy that changed something temporary
        (failover) undoes it here. None: nothing to do."""
        return None


RunCommand = Callable[[list[str]], Awaitable[tuple[int, str]]]
