"""The shape every recovery strategy shares: a config model, a context, and `async run()`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from supervisor.processes import ProcessManager


class StrategyConfig(BaseModel):
    """Fields every ladder step accepts. Subclasses add `strategy: Literal[...]` and their own."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    attempts: int | None = Field(
        default=None, ge=1, le=100,
        description="Attempts of this step before the next one. Default: recovery.maxAttempts.",
    )


@dataclass(slots=True)
class RecoveryContext:
    service: str
    correlation_id: str
    processes: ProcessManager
    attempt: int = 1
    dry_run: bool = False
    data_dir: str = "."


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

    def __init__(self, config: StrategyConfig, service: str) -> None:
        self.config = config
        self.service = service

    def plan(self) -> str:
        """One line saying what `run` would do; shown for dry runs."""
        return f"{self.name} for {self.service}"

    async def run(self, ctx: RecoveryContext) -> Outcome:  # pragma: no cover - interface
        raise NotImplementedError


RunCommand = Callable[[list[str]], Awaitable[tuple[int, str]]]
