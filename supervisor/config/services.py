"""services.json: the pydantic models (loading: config/loader.py; the published schema:
config/schema.py).

The models for checks and ladder steps are discriminated unions built from the registries,
so a check type or strategy added by a plugin is validated (and appears in the JSON Schema)
like a built-in one.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

import health_checks
import recovery_strategies
from health_checks.base import CheckConfig
from recovery_strategies.base import StrategyConfig
from supervisor.alerts.config import alerts_model
from supervisor.clients.http import conflicting_credentials
from supervisor.core.strict_json import shorten
from supervisor.ingest.config import ErrorReportingConfig
from supervisor.processes.spec import ProcessSpec

# services.json is a few levels deep (errorMonitoring.services.X.checks[0].body.json...).
MAX_DEPTH = 32
# Upper bounds of durations (ms): beyond these a value is a typo (1e308 was applied live).
HOUR_MS, DAY_MS, WEEK_MS = 3_600_000, 86_400_000, 604_800_000
SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Ladder words that expand to a step (see _expand_step), besides the strategy names.
LADDER_ALIASES = ("restart", "reconnect", "retry")
RESTART_STRATEGIES = frozenset({"restart_command", "restart_systemd", "restart_container"})


class ConfigError(Exception):
    """services.json is unusable; `problems` holds one `json.path: message` line each."""

    def __init__(self, problems: list[str], source: str = "services.json") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source} is invalid:\n" + "\n".join(f"  {p}" for p in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class RecoveryDefaults(_Model):
    """errorMonitoring.recovery: the ladder and backoff every service starts from."""

    strategies: list[str] = Field(
        default_factory=lambda: ["restart", "reconnect", "retry"],
        description="Default ladder: aliases (restart, reconnect, retry) or strategy names.",
    )
    max_attempts: int = Field(3, ge=1, le=100, alias="maxAttempts")
    backoff_multiplier: float = Field(2, ge=1, le=10, alias="backoffMultiplier")
    initial_delay: float = Field(1000, ge=0, le=DAY_MS, alias="initialDelay",
                                 description="ms before the second attempt.")
    max_delay: float = Field(60000, ge=0, le=DAY_MS, alias="maxDelay",
                             description="Cap on one wait, ms.")
    jitter: float = Field(0.1, ge=0, le=1, description="Random extra wait, share of the wait.")
    startup_grace: float = Field(15000, gt=0, le=DAY_MS, alias="startupGrace",
                                 description="ms a restarted service has to pass its checks.")
    flap_window: float = Field(600000, gt=0, le=WEEK_MS, alias="flapWindow",
                               description="ms window for counting recoveries.")
    flap_max_recoveries: int = Field(5, ge=1, le=10_000, alias="flapMaxRecoveries",
                                     description="Recoveries within flapWindow before giving up.")
    max_concurrent: int = Field(4, ge=1, le=10_000, alias="maxConcurrent",
                                description="Recoveries running at once across services.")
    reset_after: float = Field(300000, ge=0, le=WEEK_MS, alias="resetAfter",
                               description="ms a service must stay healthy before its backoff "
                                           "between recoveries starts again from zero.")


class ServiceConfigBase(_Model):
    """One service in services.json. `models()` subclasses it with `checks` and `ladder` as
    unions over the registered check types and strategies; the fields below give the rest of
    the daemon their static types."""

    # What _finish_service says of healthCheckPath, for the published schema.
    model_config = ConfigDict(json_schema_extra={
        "if": {"required": ["healthCheckPath"],
               "properties": {"healthCheckPath": {"type": "string"}}},
        "then": {"anyOf": [
            {"required": ["baseUrl"], "properties": {"baseUrl": {"type": "string"}}},
            {"required": ["port"], "properties": {"port": {"type": "integer"}}}]}})

    description: str = ""
    enabled: bool = True
    base_url: str | None = Field(None, alias="baseUrl",
                                 description="Where healthCheckPath is sent, e.g. http://127.0.0.1:8080")
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=1, le=65535)
    health_check_path: str | None = Field(None, alias="healthCheckPath")
    timeout_threshold: float = Field(5000, gt=0, le=HOUR_MS, alias="timeoutThreshold",
                                     description="Check timeout in ms.")
    error_threshold: int = Field(3, ge=1, le=1000, alias="errorThreshold",
                                 description="Consecutive failures before the service is failing.")
    success_threshold: int = Field(1, ge=1, le=1000, alias="successThreshold",
                                   description="Consecutive successes before it is healthy again.")
    degraded_threshold: float | None = Field(None, gt=0, le=HOUR_MS, alias="degradedThreshold",
                                             description="Response time in ms above which the "
                                                         "service is degraded.")
    interval: float | None = Field(None, gt=0, le=DAY_MS,
                                   description="Check interval in ms. Default: "
                                               "HEALTH_CHECK_INTERVAL.")
    auto_restart: bool = Field(True, alias="autoRestart",
                               description="Whether automatic recovery may restart it.")
    critical: bool = Field(False, description="A failing critical service makes the whole "
                                              "status critical; its checks are never slowed "
                                              "by MONITORING_OVERHEAD_LIMIT.")
    reuse_connection: bool = Field(True, alias="reuseConnection",
                                   description="Keep the HTTP connection between checks where "
                                               "the server allows it (docs/checks.md).")
    public: bool = Field(False, description="Shown on the public status page (/status): its "
                                            "name, description, state, uptime and incidents, "
                                            "nothing else.")
    shared: bool = Field(False, description="Watched by several cluster nodes (a remote "
                                            "endpoint, the master database): every node checks "
                                            "it, one node at a time recovers it, under a Redis "
                                            "lease (docs/cluster.md).")
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn")
    restart: ProcessSpec | None = Field(None, description="How to start and stop its process.")
    systemd_unit: str | None = Field(None, alias="systemdUnit")
    container: str | None = Field(None, min_length=1,
                                  description="A Docker container (name or id): adds a "
                                              "container check, and `restart` restarts it.")
    max_attempts: int | None = Field(None, ge=1, le=100, alias="maxAttempts")
    backoff_multiplier: float | None = Field(None, ge=1, le=10, alias="backoffMultiplier")
    error_reporting: ErrorReportingConfig | None = Field(
        None, alias="errorReporting", description="The service's Sentry DSN (project id, "
        "keys) and ingest budget; default: generated (docs/error-reporting.md).")
    startup_grace: float | None = Field(None, gt=0, le=DAY_MS, alias="startupGrace",
                                        description="ms this service may take to start before "
                                                    "its failures count. Default: "
                                                    "recovery.startupGrace.")

    checks: list[CheckConfig] = Field(default_factory=list)
    ladder: list[StrategyConfig] = Field(default_factory=list)
    reconnect: dict[str, Any] | None = None

    @property
    def resolved_base_url(self) -> str | None:
        if self.base_url:
            return self.base_url.rstrip("/")
        if self.port is not None:
            return f"http://{self.host}:{self.port}"
        return None

    @property
    def restart_steps(self) -> list[StrategyConfig]:
        return [s for s in self.ladder if getattr(s, "strategy", "") in RESTART_STRATEGIES]


def _expand_step(alias: str, svc: dict[str, Any]) -> dict[str, Any] | None:
    """Turn a ladder alias into a step, or None where it does not apply to this service."""
    if alias in ("restart", "restart_command", "restart_systemd", "restart_container"):
        restart, unit = svc.get("restart"), svc.get("systemdUnit") or svc.get("systemd_unit")
        container = svc.get("container")
        if alias in ("restart", "restart_command") and isinstance(restart, dict):
            return {"strategy": "restart_command", **restart}
        if alias in ("restart", "restart_systemd") and unit:
            return {"strategy": "restart_systemd", "unit": unit}
        if alias in ("restart", "restart_container") and isinstance(container, str):
            return {"strategy": "restart_container", "container": container}
        return None
    if alias in ("retry", "retry_failed"):
        return {"strategy": "retry_failed"}
    if alias in ("reconnect", "reconnect_redis"):
        if "reconnect_redis" not in recovery_strategies.registry.names():
            return None
        hook = svc.get("reconnect")
        listed = svc.get("checks")
        checks = listed if isinstance(listed, list) else []
        if not isinstance(hook, dict) and not any(
                isinstance(c, dict) and c.get("type") == "redis" for c in checks):
            return None  # nothing to reconnect: no hook and no Redis connection of its own
        return {"strategy": "reconnect_redis", **(hook if isinstance(hook, dict) else {})}
    if alias in recovery_strategies.registry.names():
        return {"strategy": alias}
    if alias in ("restart", "reconnect", "retry"):
        return None
    known = ["restart", "reconnect", "retry", *recovery_strategies.registry.names()]
    raise ValueError(f"unknown recovery step {alias!r}; known: {', '.join(known)}")


def _prepare_service(data: Any, default_ladder: list[str]) -> Any:
    """Before validation: fill the ladder from the defaults and expand its aliases.

    A default step that does not apply to a service (restart without a command) is left out;
    the same step written in the service's own ladder is an error, so its index stays true.
    """
    if not isinstance(data, dict):
        return data
    data = dict(data)
    explicit = "ladder" in data
    ladder = data.get("ladder", default_ladder)
    if isinstance(ladder, list):
        steps: list[Any] = []
        for step in ladder:
            if not isinstance(step, str):
                steps.append(step)
                continue
            expanded = _expand_step(step, data)
            if expanded is not None:
                steps.append(expanded)
            elif explicit:
                steps.append(step)  # left for the validator, which names it
        data["ladder"] = steps
    return data


def _unexpanded_steps(cls: Any, ladder: Any) -> Any:
    """A step alias still a string after expansion did not apply to this service."""
    if isinstance(ladder, list):
        for i, step in enumerate(ladder):
            if isinstance(step, str):
                need = {"restart": "restart.command, systemdUnit or container",
                        "reconnect": "a reconnect block or a redis check"}.get(step, "")
                raise ValueError(f"[{i}] {step!r} does not apply to this service"
                                 + (f": it needs {need}" if need else ""))
    return ladder


def _finish_service(svc: Any) -> Any:
    """After validation: derive the implicit HTTP check and fill per-service defaults."""
    base = svc.resolved_base_url
    checks = list(svc.checks)
    if svc.health_check_path is not None:
        if base is None:
            raise ValueError("healthCheckPath needs baseUrl or port to send it to")
        http_cls = health_checks.registry.get("http").config_model
        checks.insert(0, http_cls.model_validate({"type": "http", "name": "health"}))
    if svc.container is not None and not any(
            getattr(c, "container", None) == svc.container for c in checks):
        container_cls = health_checks.registry.get("container").config_model
        checks.insert(0, container_cls.model_validate(
            {"type": "container", "name": "container", "container": svc.container}))
    for i, check in enumerate(checks):
        if "timeout" not in check.model_fields_set:
            check.timeout = svc.timeout_threshold
        if "degraded_after" not in check.model_fields_set and svc.degraded_threshold:
            check.degraded_after = svc.degraded_threshold
        if getattr(check, "type", None) == "http" and \
                "reuse_connection" not in check.model_fields_set:
            check.reuse_connection = svc.reuse_connection
        if getattr(check, "type", None) == "http" and check.url is None:
            if base is None:
                raise ValueError(f"checks[{i}].url is required when the service has no "
                                 "baseUrl or port")
            path = check.path or svc.health_check_path or "/"
            check.url = base + (path if path.startswith("/") else "/" + path)
            problem = conflicting_credentials(check.url, check.headers)
            if problem:
                raise ValueError(f"checks[{i}].{problem}")
        if getattr(check, "type", None) == "tcp" and check.port is None:
            if svc.port is None:
                raise ValueError(f"checks[{i}].port is required when the service has no port")
            check.port, check.host = svc.port, svc.host
    names = [c.name or c.type for c in checks]
    for i, c in enumerate(checks):
        if names.count(names[i]) > 1:
            c.name = f"{names[i]}-{i}"
    svc.checks = checks
    return svc


@cache
def models() -> tuple[type[BaseModel], type[BaseModel]]:
    """Build (ServiceConfig, ServicesFile) from what the registries hold now."""
    # Sorted by name: the schema must not depend on the order modules happened to be imported.
    check_classes = [c.config_model for _, c in sorted(health_checks.registry.items().items())]
    step_classes = [s.config_model
                    for _, s in sorted(recovery_strategies.registry.items().items())]
    # Unions built at run time from the registries: mypy cannot see them as types.
    check_union = Annotated[Union[tuple(check_classes)],  # type: ignore[valid-type] # noqa: UP007
                            Field(discriminator="type")]
    step_union = Annotated[Union[tuple(step_classes)],  # type: ignore[valid-type] # noqa: UP007
                           Field(discriminator="strategy")]

    service_model = create_model(
        "ServiceConfig",
        __base__=ServiceConfigBase,
        checks=(list[check_union], Field(default_factory=list,  # type: ignore[valid-type]
                                         description="Checks beyond healthCheckPath.")),
        ladder=(list[step_union], Field(default_factory=list,  # type: ignore[valid-type]
                                        description="Recovery steps in order.")),
        reconnect=(dict[str, Any] | None, Field(None, description="Options for the reconnect "
                                                                  "step.")),
        __validators__={
            # pydantic accepts its decorator proxies here; create_model's stub says Callable
            "_finish": model_validator(mode="after")(_finish_service),  # type: ignore[dict-item]
            "_steps": field_validator("ladder", mode="before")(_unexpanded_steps),
        },
    )

    alerts_cls = alerts_model()

    class ErrorMonitoring(_Model):
        services: dict[str, service_model] = Field(default_factory=dict)
        recovery: RecoveryDefaults = Field(default_factory=RecoveryDefaults)
        alerts: alerts_cls = Field(default_factory=alerts_cls,  # type: ignore[valid-type]
                                   description="Slack, Discord and webhook alerts "
                                               "(docs/alerts.md).")

        @model_validator(mode="before")
        @classmethod
        def _ladders(cls, data: Any) -> Any:
            if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
                return data
            given = data.get("recovery")
            rec = given if isinstance(given, dict) else {}
            default = rec.get("strategies", RecoveryDefaults().strategies)
            if not isinstance(default, list):
                return data
            default = [s for s in default if isinstance(s, str)]
            return {**data, "services": {name: _prepare_service(svc, default)
                                         for name, svc in data["services"].items()}}

        @field_validator("services")
        @classmethod
        def _names(cls, services: dict[str, Any]) -> dict[str, Any]:
            for name in services:
                if not SERVICE_NAME.match(name):
                    raise ValueError(f"service name {shorten(name)!r} must match "
                                     f"{SERVICE_NAME.pattern}")
            return services

        @model_validator(mode="after")
        def _reporting(self) -> ErrorMonitoring:
            """A project id and a key belong to exactly one service."""
            seen: dict[Any, str] = {}
            for name, svc in self.services.items():
                er = svc.error_reporting
                if er is None:
                    continue
                for what in ([("projectId", er.project_id)] if er.project_id else []) + \
                        [("keys", k) for k in er.keys]:
                    if what in seen:
                        raise ValueError(f"services.{name}.errorReporting.{what[0]}: "
                                         f"{what[1]!r} is already {seen[what]}'s")
                    seen[what] = name
            return self

        @model_validator(mode="after")
        def _dependencies(self) -> ErrorMonitoring:
            graph = {n: list(s.depends_on) for n, s in self.services.items()}
            for name, deps in graph.items():
                for dep in deps:
                    if dep not in graph:
                        raise ValueError(f"services.{name}.dependsOn: unknown service {dep!r}")
            cycle = _find_cycle(graph)
            if cycle:
                raise ValueError("dependsOn has a cycle: " + " -> ".join(cycle))
            return self

    class ServicesFile(_Model):
        model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True,
                                  title="soulfra-supervisor services.json")
        schema_: str | None = Field(None, alias="$schema")
        error_monitoring: ErrorMonitoring = Field(alias="errorMonitoring")

    return service_model, ServicesFile


def uses_containers(services: dict[str, Any]) -> bool:
    """Whether an enabled service has a container check (the daemon then watches Docker)."""
    return any(getattr(c, "type", None) == "container"
               for svc in services.values() if svc.enabled for c in svc.checks)


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for n in graph:
        if state.get(n) is None:
            found = visit(n)
            if found:
                return found
    return None
