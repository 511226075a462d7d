"""The error taxonomy (category, level, severity, the SPEC's short `type`), the classifier
that maps real exceptions and check results onto it, and the fingerprint that groups repeats.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import re
import sqlite3
from dataclasses import dataclass, replace
from enum import StrEnum

from supervisor.core.check_result import CheckKind, CheckResult


class Category(StrEnum):
    NETWORK_TIMEOUT = "NETWORK_TIMEOUT"
    CONNECTION_LOST = "CONNECTION_LOST"
    PROTOCOL_VIOLATION = "PROTOCOL_VIOLATION"
    CONTENT_PARSE_ERROR = "CONTENT_PARSE_ERROR"
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
    PERMISSION_DENIED = "PERMISSION_DENIED"
    EVENT_LOOP_BLOCKED = "EVENT_LOOP_BLOCKED"
    SCHEDULER_STALLED = "SCHEDULER_STALLED"
    STORE_WRITE_FAILED = "STORE_WRITE_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    MONITORING_OVERHEAD = "MONITORING_OVERHEAD"


# Which family each category belongs to (SPEC §6), for docs and the trends view.
FAMILIES: dict[str, tuple[Category, ...]] = {
    "network": (Category.NETWORK_TIMEOUT, Category.CONNECTION_LOST,
                Category.PROTOCOL_VIOLATION),
    "data": (Category.DATABASE_ERROR, Category.SCHEMA_VIOLATION, Category.CONSTRAINT_VIOLATION),
    "service": (Category.CONTRACT_VIOLATION, Category.SERVICE_UNAVAILABLE,
                Category.RATE_LIMIT_EXCEEDED, Category.HEARTBEAT_MISSED, Category.WORK_STALLED,
                Category.PROCESS_EXITED, Category.RECOVERY_FAILED),
    "resources": (Category.DISK_EXHAUSTED, Category.MEMORY_EXHAUSTED,
                  Category.FILE_DESCRIPTORS_EXHAUSTED, Category.PERMISSION_DENIED),
    "extraction": (Category.EXTRACTION_FAILED, Category.AI_PROVIDER_ERROR),
    "validation": (Category.VALIDATION_FAILED, Category.MALFORMED_REQUEST,
                   Category.CONTENT_PARSE_ERROR),
    "daemon": (Category.EVENT_LOOP_BLOCKED, Category.SCHEDULER_STALLED,
               Category.STORE_WRITE_FAILED, Category.INTERNAL_ERROR,
               Category.MONITORING_OVERHEAD),
}


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
    # A thread leak ends in memory (stacks) or the pid limit; no closer category exists.
    "threads": Classification("thread_pressure", Category.MEMORY_EXHAUSTED, Level.SERVICE,
                              Severity.MEDIUM),
}

RECOVERY_FAILED = Classification("recovery_failed", Category.RECOVERY_FAILED, Level.SERVICE,
                                 Severity.CRITICAL)
EVENT_LOOP_BLOCKED = Classification("event_loop_blocked", Category.EVENT_LOOP_BLOCKED,
                                    Level.SYSTEM, Severity.HIGH)
SCHEDULER_STALLED = Classification("scheduler_stalled", Category.SCHEDULER_STALLED,
                                   Level.SYSTEM, Severity.CRITICAL)
STORE_WRITE_FAILED = Classification("store_write_failed", Category.STORE_WRITE_FAILED,
                                    Level.SYSTEM, Severity.CRITICAL)
# The shared store (SOULFRA_STORE_URL) cannot be reached: rows queue locally until it returns.
SHARED_STORE_DOWN = Classification("shared_store_unreachable", Category.CONNECTION_LOST,
                                   Level.EXTERNAL, Severity.HIGH)
# Cluster mode (supervisor/cluster/): a node that stopped renewing its membership, and this
# node's own cluster Redis out of reach.
NODE_LAPSED = Classification("node_lapsed", Category.HEARTBEAT_MISSED, Level.SYSTEM,
                             Severity.CRITICAL)
CLUSTER_UNREACHABLE = Classification("cluster_unreachable", Category.CONNECTION_LOST,
                                     Level.SYSTEM, Severity.HIGH)
# Over MONITORING_OVERHEAD_LIMIT: intervals stretched (supervisor/observability/overhead.py).
OVERHEAD_EXCEEDED = Classification("monitoring_overhead", Category.MONITORING_OVERHEAD,
                                   Level.SYSTEM, Severity.LOW)
# A check the daemon's own trouble made inconclusive (health_checks.base.CheckKind.INCONCLUSIVE).
CHECK_INCONCLUSIVE_FDS = Classification("check_inconclusive",
                                        Category.FILE_DESCRIPTORS_EXHAUSTED, Level.SYSTEM,
                                        Severity.HIGH)
CHECK_INCONCLUSIVE_LAG = Classification("check_inconclusive", Category.EVENT_LOOP_BLOCKED,
                                        Level.SYSTEM, Severity.MEDIUM)
UNHANDLED = Classification("unhandled_exception", Category.INTERNAL_ERROR, Level.SYSTEM,
                           Severity.HIGH)

TIMEOUT = Classification("service_timeout", Category.NETWORK_TIMEOUT, Level.SERVICE,
                         Severity.MEDIUM)
REFUSED = Classification("connection_refused", Category.SERVICE_UNAVAILABLE, Level.SERVICE,
                         Severity.HIGH)
LOST = Classification("connection_lost", Category.CONNECTION_LOST, Level.EXTERNAL,
                      Severity.HIGH)
PROTOCOL = Classification("protocol_violation", Category.PROTOCOL_VIOLATION, Level.EXTERNAL,
                          Severity.MEDIUM)
RATE_LIMITED = Classification("rate_limited", Category.RATE_LIMIT_EXCEEDED, Level.EXTERNAL,
                              Severity.LOW)
SERVER_ERROR = Classification("server_error", Category.SERVICE_UNAVAILABLE, Level.SERVICE,
                              Severity.MEDIUM)
CLIENT_ERROR = Classification("malformed_request", Category.MALFORMED_REQUEST, Level.USER,
                              Severity.LOW)
DATABASE = Classification("database_error", Category.DATABASE_ERROR, Level.DATA,
                          Severity.HIGH)
CONSTRAINT = Classification("constraint_violation", Category.CONSTRAINT_VIOLATION, Level.DATA,
                            Severity.MEDIUM)
SCHEMA = Classification("schema_violation", Category.SCHEMA_VIOLATION, Level.DATA,
                        Severity.MEDIUM)
VALIDATION = Classification("validation_failed", Category.VALIDATION_FAILED, Level.USER,
                            Severity.LOW)
DISK_FULL = Classification("disk_full", Category.DISK_EXHAUSTED, Level.SYSTEM, Severity.CRITICAL)
FDS_EXHAUSTED = Classification("too_many_open_files", Category.FILE_DESCRIPTORS_EXHAUSTED,
                               Level.SYSTEM, Severity.CRITICAL)
OUT_OF_MEMORY = Classification("out_of_memory", Category.MEMORY_EXHAUSTED, Level.SYSTEM,
                               Severity.CRITICAL)
PERMISSION = Classification("permission_denied", Category.PERMISSION_DENIED, Level.SYSTEM,
                            Severity.HIGH)
INTERNAL = Classification("internal_error", Category.INTERNAL_ERROR, Level.SYSTEM,
                          Severity.MEDIUM)

_BY_ERRNO: dict[int, Classification] = {
    errno.ENOSPC: DISK_FULL, errno.EDQUOT: DISK_FULL, errno.EFBIG: DISK_FULL,
    errno.EMFILE: FDS_EXHAUSTED, errno.ENFILE: FDS_EXHAUSTED,
    errno.ENOMEM: OUT_OF_MEMORY,
    errno.EACCES: PERMISSION, errno.EPERM: PERMISSION, errno.EROFS: PERMISSION,
    errno.ECONNREFUSED: REFUSED,
    errno.ETIMEDOUT: TIMEOUT,
    errno.ECONNRESET: LOST, errno.ECONNABORTED: LOST, errno.EPIPE: LOST,
    errno.EHOSTUNREACH: LOST, errno.ENETUNREACH: LOST, errno.ENETDOWN: LOST,
    errno.ENOTCONN: LOST,
}


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


def classify_http_status(status: int) -> Classification | None:
    """429 is the peer pacing us; 5xx the peer failing; other 4xx our request being wrong."""
    if status == 429:
        return RATE_LIMITED
    if 500 <= status < 600:
        return SERVER_ERROR
    if 400 <= status < 500:
        return CLIENT_ERROR
    return None


def _names(exc: BaseException) -> list[str]:
    """'module.Class' for the exception's class and its bases: drivers are matched by name, so
    that classifying never imports (or requires) a driver."""
    return [f"{k.__module__}.{k.__qualname__}" for k in type(exc).__mro__]


def _by_driver(exc: BaseException) -> Classification | None:
    names = _names(exc)
    joined = " ".join(names)
    msg = str(exc).lower()
    if "redis.exceptions." in joined:
        if "redis.exceptions.TimeoutError" in names:
            return TIMEOUT
        if "redis.exceptions.ConnectionError" in names:
            if "refused" in msg or "error 111" in msg:
                return REFUSED
            return LOST
        if "redis.exceptions.ResponseError" in names and (
                "wrongtype" in msg or "noscript" in msg):
            return SCHEMA
        return DATABASE
    if "aiomqtt." in joined or "paho.mqtt." in joined:
        if "timed out" in msg or "timeout" in msg:
            return TIMEOUT
        if "refused" in msg and "not authori" not in msg:
            return REFUSED
        return LOST
    if "asyncpg." in joined or "psycopg" in joined:
        if any(n.endswith(("IntegrityConstraintViolationError", "IntegrityError",
                           "UniqueViolationError", "UniqueViolation",
                           "ForeignKeyViolationError", "ForeignKeyViolation"))
               for n in names):
            return CONSTRAINT
        if any(n.endswith(("UndefinedTableError", "UndefinedColumnError", "UndefinedTable",
                           "UndefinedColumn")) for n in names):
            return SCHEMA
        if any(n.endswith(("QueryCanceledError", "QueryCanceled")) for n in names):
            return TIMEOUT
        if any(n.endswith(("ConnectionDoesNotExistError", "CannotConnectNowError",
                           "ConnectionFailureError", "InterfaceError")) for n in names):
            return LOST
        return DATABASE
    if "aiohttp." in joined:
        status = getattr(exc, "status", None)
        if isinstance(status, int) and (c := classify_http_status(status)) is not None:
            return c
        if "aiohttp.client_exceptions.ServerTimeoutError" in names:
            return TIMEOUT
        if "aiohttp.client_exceptions.ServerDisconnectedError" in names:
            return LOST
        if "aiohttp.client_exceptions.ClientPayloadError" in names or \
                "aiohttp.client_exceptions.ContentTypeError" in names:
            return PROTOCOL
    if any(n.startswith("jsonschema.") and n.endswith("ValidationError") for n in names):
        return Classification("contract_violation", Category.CONTRACT_VIOLATION,
                              Level.SERVICE, Severity.MEDIUM)
    if "pydantic_core._pydantic_core.ValidationError" in names:
        return VALIDATION
    return None


def _by_sqlite(exc: sqlite3.Error) -> Classification:
    msg = str(exc).lower()
    if "full" in msg:
        return DISK_FULL
    if isinstance(exc, sqlite3.IntegrityError):
        return CONSTRAINT
    if "no such table" in msg or "no such column" in msg or "has no column" in msg:
        return SCHEMA
    if "readonly" in msg or "unable to open" in msg:
        return PERMISSION
    return DATABASE


def classify_exception(exc: BaseException) -> Classification:
    """Map an exception (ours, the stdlib's or a driver's) to the taxonomy.

    The cause chain is followed so that a driver error wrapping an OSError (aiohttp's
    ClientConnectorError, redis' ConnectionError) is judged by what really happened.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        c = _classify_one(e)
        if c is not None:
            return c
        e = e.__cause__ or e.__context__
    return INTERNAL


def _classify_one(exc: BaseException) -> Classification | None:
    if (c := _by_driver(exc)) is not None:
        return c
    if isinstance(exc, sqlite3.Error):
        return _by_sqlite(exc)
    if isinstance(exc, MemoryError):
        return OUT_OF_MEMORY
    if isinstance(exc, OSError):
        code = exc.errno
        os_error = getattr(exc, "os_error", None)  # aiohttp wraps the socket error
        if code is None and isinstance(os_error, OSError):
            code = os_error.errno
        if code is not None and code in _BY_ERRNO:
            return _BY_ERRNO[code]
    if isinstance(exc, TimeoutError):
        return TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return REFUSED
    if isinstance(exc, ConnectionError | EOFError):
        return LOST
    if isinstance(exc, UnicodeDecodeError):
        return PROTOCOL
    if isinstance(exc, ValueError) and type(exc).__name__ == "JSONDecodeError":
        return PROTOCOL
    if isinstance(exc, PermissionError):
        return PERMISSION
    return None


def classify(result: CheckResult, *, critical_service: bool = False) -> Classification:
    """Classify a failed check result, looking past its kind at what the check recorded
    (an HTTP status, an errno, an exception class) when that says more."""
    c = classify_result(result, critical_service=False)
    d = result.details
    better: Classification | None = None
    status = d.get("status")
    if isinstance(status, int) and result.kind is CheckKind.UNHEALTHY:
        better = classify_http_status(status)
    code = d.get("errno")
    if better is None and isinstance(code, int):
        better = _BY_ERRNO.get(code)
    category = d.get("category")  # a check that knows it (errors: the top reported group's)
    if better is None and isinstance(category, str) and category in Category.__members__:
        better = Classification(f"{result.check_type or 'service'}_reported",
                                Category(category), Level.SERVICE, Severity.HIGH)
    if better is not None:
        c = better
    if critical_service and c.severity in (Severity.MEDIUM, Severity.HIGH):
        c = replace(c, severity=Severity.CRITICAL)
    return c


# -- fingerprints --------------------------------------------------------------------------
_NORMALISE: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    # (pattern, replacement, substrings one of which must be present for it to match)
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
     "<uuid>", ("-",)),
    (re.compile(r"\b(?:SE|inc|rec)_[0-9a-f]{6,}\b", re.I), "<id>", ("_",)),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>", ("0x",)),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>", ()),
    # short hex ids (request ids, commit ids): letters and digits mixed
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", re.I), "<hex>", ()),
    (re.compile(r"\[[0-9a-f:.]+\](?::\d+)?", re.I), "<addr>", ("[",)),
    (re.compile(r"\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b(?::\d+)?", re.I), "<addr>",
     ("::", ":0", ":1", ":2", ":3", ":4", ":5", ":6", ":7", ":8", ":9")),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<addr>", (".",)),
    (re.compile(r"\blocalhost:\d+\b", re.I), "<addr>", ("localhost",)),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>", ()),
    (re.compile(r"\s+"), " ", ()),
]


@functools.lru_cache(maxsize=4096)  # a storm repeats its messages; the input is redacted
def normalise_message(message: str) -> str:
    """The message with what varies between repeats (numbers, ids, addresses) stripped."""
    text, lowered = message, message.lower()
    for pattern, repl, needles in _NORMALISE:
        if not needles or any(n in lowered for n in needles):
            text = pattern.sub(repl, text)
    return text.strip()[:300]


def fingerprint(service: str | None, category: str, message: str) -> str:
    """Same service, category and normalised message: the same problem."""
    key = f"{service or ''}\x1f{category}\x1f{normalise_message(message)}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]
