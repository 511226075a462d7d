"""Health checks, one module per `type`; `registry` maps each type name to its class."""

from health_checks.base import CheckConfig, CheckKind, CheckResult, HealthCheck
from supervisor.core.registry import Registry

registry: Registry[HealthCheck] = Registry("health check", "health_checks", "soulfra.health_checks")

__all__ = ["CheckConfig", "CheckKind", "CheckResult", "HealthCheck", "registry"]
