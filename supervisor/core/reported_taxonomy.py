"""Classifying errors the services report (Sentry events, JSON reports): only the names are
known there — exception type, module, message, the SDK's level and whether it was handled —
not a live exception, so the rules match names and well-known codes of the platform's
languages (Node, Python) and drivers (Prisma, pg, asyncpg, sqlite, redis/ioredis, zod,
pydantic, jsonschema, axios, fetch).

`classify_exception` in taxonomy.py stays the classifier of the daemon's own exceptions; both
map onto the same taxonomy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from supervisor.core.taxonomy import (
    CLIENT_ERROR,
    CONSTRAINT,
    DATABASE,
    DISK_FULL,
    FDS_EXHAUSTED,
    LOST,
    OUT_OF_MEMORY,
    PERMISSION,
    RATE_LIMITED,
    REFUSED,
    SCHEMA,
    SERVER_ERROR,
    TIMEOUT,
    VALIDATION,
    Category,
    Classification,
    Level,
    Severity,
)

CONTENT_PARSE = Classification("content_parse_error", Category.CONTENT_PARSE_ERROR,
                               Level.DATA, Severity.MEDIUM)
AI_PROVIDER = Classification("ai_provider_error", Category.AI_PROVIDER_ERROR, Level.EXTERNAL,
                             Severity.MEDIUM)
UNCLASSIFIED = Classification("exception", Category.INTERNAL_ERROR, Level.SERVICE,
                              Severity.MEDIUM)
MESSAGE = Classification("reported_error", Category.INTERNAL_ERROR, Level.SERVICE,
                         Severity.MEDIUM)

# SDK level → severity (Sentry's levels; "warn" and "critical" as some loggers say).
LEVELS: dict[str, Severity] = {
    "fatal": Severity.CRITICAL, "critical": Severity.CRITICAL, "error": Severity.MEDIUM,
    "warning": Severity.LOW, "warn": Severity.LOW, "info": Severity.INFO,
    "log": Severity.INFO, "debug": Severity.INFO,
}
_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3,
         Severity.CRITICAL: 4}

# Codes that Node (libuv) and Python (errno names in messages) put into error messages.
_CODES: list[tuple[re.Pattern[str], Classification]] = [
    (re.compile(r"\beconnrefused\b|connection refused|errno 111\b"), REFUSED),
    (re.compile(r"\b(etimedout|esockettimedout|econnaborted)\b|timed? ?out\b|timeout of \d+ ?ms"
                r"|deadline exceeded|operation was aborted due to timeout"), TIMEOUT),
    (re.compile(r"\b(econnreset|epipe|ehostunreach|enetunreach|enotfound|eai_again)\b|"
                r"socket hang up|connection reset|broken pipe|other side closed|"
                r"connection (was )?(closed|lost|terminated)|server closed the connection"), LOST),
    (re.compile(r"\benospc\b|no space left|database or disk is full|errno 28\b"), DISK_FULL),
    (re.compile(r"\b(emfile|enfile)\b|too many open files"), FDS_EXHAUSTED),
    (re.compile(r"\benomem\b|heap out of memory|cannot allocate memory"), OUT_OF_MEMORY),
    (re.compile(r"\b(eacces|eperm|erofs)\b|permission denied|read-only file system"),
     PERMISSION),
]
_CONSTRAINT = re.compile(r"unique constraint|duplicate key|constraint failed|\bp200[23]\b|"
                         r"foreign key constraint|sqlite_constraint|unique violation|"
                         r"violates (not-null|check|foreign key|unique) constraint")
_SCHEMA = re.compile(r"no such (table|column)|(relation|column|table) \S+ does not exist|"
                     r"\bp202[12]\b|has no column|wrongtype|undefined (table|column)")
_JSON = re.compile(r"\bjson\b.*(parse|position|unexpected|invalid|decode)|"
                   r"(unexpected token|unexpected end of).*json|expecting value: line|"
                   r"is not valid json|jsondecodeerror|json\.parse")
_STATUS = re.compile(r"(?:status(?: code)?|http(?: error)?|response code)[ :=]*([1-5]\d\d)\b"
                     r"|\b([45]\d\d) (?:too many requests|service unavailable|bad gateway|"
                     r"internal server error|gateway timeout|not found|bad request)")
_AI_MODULES = ("openai", "anthropic", "cohere", "mistralai", "google.generativeai")


def _by_name(t: str, module: str, msg: str) -> Classification | None:
    """Rules on the exception type (and its module) first: they are the most specific."""
    full = f"{module}.{t}".lower() if module else t.lower()
    tl = t.lower()
    if tl in ("connectionrefusederror",):
        return REFUSED
    if tl in ("timeouterror", "timeout", "readtimeout", "connecttimeout", "writetimeout",
              "pooltimeout", "timeoutexpired", "aborterror", "querycancelederror",
              "querycanceled", "sockettimeout") or full.endswith("socket.timeout"):
        return TIMEOUT
    if tl in ("connectionreseterror", "brokenpipeerror", "connectionabortederror",
              "remotedisconnected", "serverdisconnectederror", "remoteprotocolerror",
              "connectionclosederror", "incompleteread", "interfaceerror"):
        return LOST
    if tl == "memoryerror":
        return OUT_OF_MEMORY
    if tl == "permissionerror":
        return PERMISSION
    if tl in ("ratelimiterror", "toomanyrequests", "toomanyrequestserror"):
        return RATE_LIMITED
    if any(full.startswith(m) for m in _AI_MODULES):
        return AI_PROVIDER
    if tl in ("zoderror", "validationerror", "pydanticvalidationerror", "joivalidationerror",
              "marshmallowvalidationerror", "schemavalidationerror", "ajvvalidationerror") \
            or "pydantic" in full or full.startswith("jsonschema"):
        return VALIDATION
    if tl in ("jsondecodeerror",) or (tl == "syntaxerror" and "json" in msg):
        return CONTENT_PARSE
    return None


def _by_driver(t: str, module: str, msg: str) -> Classification | None:
    """Database and cache drivers: constraint and schema problems first, then connection."""
    full = f"{module}.{t}".lower()
    tl = t.lower()
    is_db = (tl.startswith(("prismaclient", "sqlite", "sequelize", "typeorm", "knex",
                            "mongo", "postgres", "databaseerror", "queryfailed"))
             or any(d in full for d in ("asyncpg", "psycopg", "sqlite3", "sqlalchemy",
                                        "prisma", "pg.", "mysql", "aiosqlite")))
    is_redis = "redis" in full or tl in ("replyerror", "maxretriesperrequesterror")
    if tl in ("uniqueviolationerror", "uniqueviolation", "integrityerror",
              "integrityconstraintviolationerror", "foreignkeyviolationerror",
              "uniqueconstrainterror", "foreignkeyconstrainterror") or \
            (is_db or tl.endswith("error")) and _CONSTRAINT.search(msg):
        return CONSTRAINT
    if tl in ("undefinedtableerror", "undefinedcolumnerror") or \
            (is_db or is_redis) and _SCHEMA.search(msg):
        return SCHEMA
    if is_redis:
        if "timeout" in tl or "timed out" in msg:
            return TIMEOUT
        if "refused" in msg:
            return REFUSED
        if "connection" in tl or "maxretries" in tl or "connection" in msg:
            return LOST
        return DATABASE
    if is_db:
        if "p1001" in msg or "can't reach database" in msg or "econnrefused" in msg:
            return REFUSED
        if "p2024" in msg or "timed out" in msg or "timeout" in msg:
            return TIMEOUT
        if "connection" in msg and ("closed" in msg or "lost" in msg or "terminated" in msg):
            return LOST
        if "disk is full" in msg:
            return DISK_FULL
        return DATABASE
    return None


def _by_message(msg: str) -> Classification | None:
    m = _STATUS.search(msg)
    if m:
        status = int(m.group(1) or m.group(2))
        if status == 429:
            return RATE_LIMITED
        if 500 <= status < 600:
            return SERVER_ERROR
        if 400 <= status < 500:
            return CLIENT_ERROR
    if "too many requests" in msg or "rate limit" in msg:
        return RATE_LIMITED
    for pattern, c in _CODES:
        if pattern.search(msg):
            return c
    if _JSON.search(msg):
        return CONTENT_PARSE
    return None


def classify_reported_one(type_name: str | None, module: str | None,
                          message: str | None) -> Classification | None:
    """One exception (or a message alone) by its names; None when nothing is recognised."""
    t, mod, msg = type_name or "", module or "", (message or "").lower()
    if t:
        for rule in (_by_driver, _by_name):
            c = rule(t, mod, msg)
            if c is not None:
                return c
    return _by_message(msg) if msg else None


def classify_reported(chain: Sequence[tuple[str | None, str | None, str | None]], *,
                      level: str | None = None, unhandled: bool = False,
                      message: str | None = None) -> Classification:
    """A reported error: `chain` is its exceptions (type, module, message), outermost first,
    as a cause chain is followed. The SDK's level sets the severity, raised to the category's
    own at error level and above; an unhandled crash is at least high."""
    found: Classification | None = None
    for type_name, module, value in chain:
        found = classify_reported_one(type_name, module, value)
        if found is not None:
            break
    if found is None and message:
        found = classify_reported_one(None, None, message)
    base = found or (UNCLASSIFIED if chain else MESSAGE)
    severity = LEVELS.get((level or "error").lower(), Severity.MEDIUM)
    # At error level and above the category's own weight counts (a refused connection is
    # high); a warning or info stays what the service called it, unless it is critical.
    if found is not None and (base.severity is Severity.CRITICAL or _RANK[severity] >= 2):
        severity = max(severity, base.severity, key=_RANK.__getitem__)
    if unhandled and _RANK[severity] < _RANK[Severity.HIGH]:
        severity = Severity.HIGH
    if unhandled and base is UNCLASSIFIED:
        base = replace(base, type="unhandled_exception")
    return replace(base, severity=severity)
