"""How the daemon starts and stops a service's process (`restart` in services.json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ProcessSpec(BaseModel):
    """How to start and stop a service's process. Also the service-level `restart` block."""

    # strict: `true` is no number; json_schema_extra: what _shell_takes_one_string says,
    # for the published schema.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True,
                              json_schema_extra={
                                  "if": {"required": ["shell"],
                                         "properties": {"shell": {"const": True}}},
                                  "then": {"properties": {"command": {"maxItems": 1}}}})

    # The restart block becomes a restart_command step of the ladder, so it takes a step's
    # `attempts` too (the same field as StrategyConfig's).
    attempts: int | None = Field(
        default=None, ge=1, le=100,
        description="Attempts of this step before the next one. Default: recovery.maxAttempts.",
    )
    command: list[str] = Field(min_length=1, description="argv of the service's process.")
    shell: bool = Field(default=False, description="Run command[0] through /bin/sh -c.")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    pid_file: str | None = Field(default=None, alias="pidFile",
                                 description="Where the pid is recorded (read to find it).")
    stop_timeout: float = Field(default=5000, gt=0, le=3_600_000, alias="stopTimeout",
                                description="ms between SIGTERM and SIGKILL.")
    auto_start: bool = Field(default=False, alias="autoStart",
                             description="Start the process when the daemon starts and the "
                                         "service does not answer.")
    stop_on_exit: bool = Field(default=False, alias="stopOnExit",
                               description="Stop the process when the daemon shuts down.")

    @model_validator(mode="after")
    def _shell_takes_one_string(self) -> ProcessSpec:
        if self.shell and len(self.command) != 1:
            raise ValueError("with shell: true, command must be a single string")
        return self
