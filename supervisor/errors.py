"""The error taxonomy: category, level, severity and the SPEC's short `type`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from health_checks.base import CheckKind, CheckResult


class Category(StrEnum):
    NETWORK_TIMEOUT = "NETWORK_TIMEOUT"
    CONNECTION_LOST = "CONNECTION_LOST"
    PROTOCOL_VIOLATION = "PROTOCOL_VIOLATION"
    DATABASE_ERROR = "DATABASE_ERROR"
    SCHEMA_VIOLATION = "SCHEMA_VIOLATION"
    CONSTRAINT_VIOLATION = "CONSTRAINT_VIOLATION"
    CONTRACT_VIOLATION = "CONTRACT_VIOLATION"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    DISK_EXHAUSTED = "DISK_EXHAUSTED"
    MEMORY_EXHAUSTED = "MEMORY_EXHAUSTED"
    FILE_DESCRIPTORS_EXHAUSTED = "FILE_DESCRIPTORS_EXHAUSTED"
    EXTRACTION_FAILED = "EXTRACTION_FAILED"
    AI_PROVIDER_ERROR = "AI_PROVIDER_ERROR"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    HEARTBEAT_MISSED = "HEARTBEAT_MISSED"
    WORK_STALLED = "WORK_STALLED"
    PROCESS_EXITED = "PROCESS_EXITED"
    RECOVERY_FAILED = "RECOVERY_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class Level(StrEnum):
    SYSTEM = "system"
    SERVICE = "service"
    DATA = "data"
    USER = "user"
    EXTERNAL = "external"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Classification:
    type: str
    category: Category
    level: Level
    severity: Severity


_BY_KIND: dict[CheckKind, Classification] = {
    CheckKind.STALLED: Classification("service_timeout", Category.NETWORK_TIMEOUT,
                                      Level.SERVICE, Severity.MEDIUM),
    CheckKind.REFUSED: Classification("connection_refused", Category.SERVICE_UNAVAILABLE,
                                      Level.SERVICE, Severity.HIGH),
    CheckKind.UNHEALTHY: Classification("service_unhealthy", Category.SERVICE_UNAVAILABLE,
                                        Level.SERVICE, Severity.MEDIUM),
    CheckKind.CONTRACT_VIOLATION: Classification("contract_violation",
                                                 Category.CONTRACT_VIOLATION, Level.SERVICE,
                                                 Severity.MEDIUM),
    CheckKind.CONNECTION_LOST: Classification("connection_lost", Category.CONNECTION_LOST,
                                              Level.EXTERNAL, Severity.HIGH),
    CheckKind.MISSING_HEARTBEAT: Classification("heartbeat_missed", Category.HEARTBEAT_MISSED,
                                                Level.SERVICE, Severity.HIGH),
    CheckKind.NO_PROGRESS: Classification("work_stalled", Category.WORK_STALLED,
                                          Level.SERVICE, Severity.MEDIUM),
    CheckKind.PROCESS_EXITED: Classification("process_exited", Category.PROCESS_EXITED,
                                             Level.SERVICE, Severity.HIGH),
    CheckKind.CHECK_ERROR: Classification("internal_error", Category.INTERNAL_ERROR,
                                          Level.SYSTEM, Severity.MEDIUM),
    CheckKind.DEGRADED: Classification("service_degraded", Category.NETWORK_TIMEOUT,
                                       Level.SERVICE, Severity.LOW),
}

_BY_RESOURCE: dict[str, Classification] = {
    "disk": Classification("disk_pressure", Category.DISK_EXHAUSTED, Level.SYSTEM,
                           Severity.HIGH),
    "memory": Classification("memory_pressure", Category.MEMORY_EXHAUSTED, Level.SYSTEM,
                             Severity.HIGH),
    "fds": Classification("fd_pressure", Category.FILE_DESCRIPTORS_EXHAUSTED, Level.SYSTEM,
                          Severity.HIGH),
    "queue": Classification("queue_backlog", Category.WORK_STALLED, Level.SERVICE,
                            Severity.MEDIUM),
}

RECOVERY_FAILED = Classification("recovery_failed", Category.RECOVERY_FAILED, Level.SERVICE,
                                 Severity.CRITICAL)


def classify_result(result: CheckResult, *, critical_service: bool = False) -> Classification:
    """Map what a check found to the taxonomy; a critical service raises the severity."""
    if result.kind is CheckKind.RESOURCE_PRESSURE:
        c = _BY_RESOURCE.get(str(result.details.get("resource", "")), _BY_RESOURCE["disk"])
    else:
        c = _BY_KIND.get(result.kind, Classification("service_error",
                                                     Category.SERVICE_UNAVAILABLE,
                                                     Level.SERVICE, Severity.MEDIUM))
    if critical_service and c.severity in (Severity.MEDIUM, Severity.HIGH):
        c = Classification(c.type, c.category, c.level, Severity.CRITICAL)
    return c
