"""Logging through loguru: readable in a terminal, JSON lines otherwise; stdlib routed in.

- Levels per component: ERROR_LOG_LEVEL is the default, SOULFRA_LOG_LEVELS overrides it per
  module prefix (`aiohttp=warning,supervisor.core.scheduler=debug`); the longest prefix wins.
- Optional file log (SOULFRA_LOG_FILE): JSON lines, rotated and pruned by loguru.
- A line repeated from the same place is written REPEAT_BURST times a minute at most; the next
  one written says how many were left out (asyncio's `socket.accept() out of system resource`
  came 10,485 times in 8 s at the fd limit, a full disk 466 tracebacks in 30 s).
- Every line is redacted, tracebacks included (loguru's patcher only sees the message and the
  bound values, so the sinks redact the finished text as well).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from loguru import logger

from supervisor.core.redaction import redact, redact_text

TEXT_FORMAT = ("<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
               "<cyan>{name}</cyan> {message}"
               "<dim>{extra[correlation_id]}</dim>")

# Libraries that are chatty below WARNING unless asked otherwise.
# Apprise's own lines can name a channel's secret URL; its channel reports the outcome, masked.
LIBRARY_DEFAULTS = {"aiohttp.access": "WARNING", "apscheduler": "WARNING", "asyncio": "WARNING",
                    "apprise": "CRITICAL"}


class _Intercept(logging.Handler):
    """Stdlib records (aiohttp, redis, apscheduler) into loguru, under their logger's name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.patch(lambda r: r.update(name=record.name)).opt(  # type: ignore[call-arg]
            depth=depth, exception=record.exc_info).log(level, record.getMessage())


def parse_levels(default: str, overrides: str) -> dict[str, int]:
    """'' → default; 'aiohttp=warning,supervisor.core.scheduler=debug' → prefix → level number."""
    levels = {"": logger.level(default.upper()).no}
    for name, lvl in LIBRARY_DEFAULTS.items():
        levels[name] = logger.level(lvl).no
    for part in overrides.split(","):
        if not part.strip():
            continue
        name, sep, lvl = part.partition("=")
        if not sep:
            raise ValueError(f"SOULFRA_LOG_LEVELS: {part!r} is not module=level")
        try:
            levels[name.strip()] = logger.level(lvl.strip().upper()).no
        except ValueError:
            raise ValueError(f"SOULFRA_LOG_LEVELS: unknown level {lvl.strip()!r} for "
                             f"{name.strip()!r}") from None
    return levels


class LevelFilter:
    """Passes a record when its level reaches the level of its longest matching prefix."""

    def __init__(self, levels: dict[str, int]) -> None:
        self.levels = levels
        self._cache: dict[str, int] = {}

    def level_for(self, name: str) -> int:
        hit = self._cache.get(name)
        if hit is None:
            best = ""
            for prefix in self.levels:
                if prefix and (name == prefix or name.startswith(prefix + ".")) and \
                        len(prefix) > len(best):
                    best = prefix
            hit = self._cache[name] = self.levels[best]
        return hit

    def __call__(self, record: Any) -> bool:
        return bool(record["level"].no >= self.level_for(record["name"] or ""))


REPEAT_BURST = 5
REPEAT_WINDOW_S = 60.0
_DIGITS = re.compile(r"\d+")


class RepeatLimiter:
    """Lets a line through unless the same line (digits aside) from the same place has been
    written REPEAT_BURST times within the window; decided once per record for every sink."""

    def __init__(self, burst: int = REPEAT_BURST, window_s: float = REPEAT_WINDOW_S) -> None:
        self.burst = burst
        self.window_s = window_s
        self._seen: dict[tuple[Any, ...], list[float]] = {}  # key -> [window start, n, dropped]

    def __call__(self, record: Any) -> bool:
        extra = record["extra"]
        if "_repeat_ok" not in extra:
            extra["_repeat_ok"] = self._decide(record)
        return bool(extra["_repeat_ok"])

    def _decide(self, record: Any) -> bool:
        key = (record["name"], record["function"], record["line"], record["level"].no,
               _DIGITS.sub("#", record["message"][:300]))
        now = time.monotonic()
        entry = self._seen.get(key)
        if entry is None or now - entry[0] > self.window_s:
            dropped = int(entry[2]) if entry is not None else 0
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = [now, 1, 0]
            if dropped:
                record["message"] += f" [{dropped} more like this left out]"
            return True
        entry[1] += 1
        if entry[1] <= self.burst:
            return True
        entry[2] += 1
        return False


def json_line(r: Any) -> str:
    """One compact JSON object per line: what a log shipper wants."""
    line = {"time": r["time"].isoformat(), "level": r["level"].name, "logger": r["name"],
            "message": r["message"]}
    line.update({k: v for k, v in r["extra"].items()
                 if v not in ("", None) and not k.startswith("_")})
    if r["exception"] is not None:
        exc = r["exception"]
        line["exception"] = redact_text(repr(exc.value))
        line["traceback"] = redact_text("".join(traceback.format_exception(
            exc.type, exc.value, exc.traceback)))
    return json.dumps(line, default=str)


def _json_format(record: Any) -> str:
    record["extra"]["_line"] = json_line(record)
    return "{extra[_line]}\n"


def _redacting(stream: Any) -> Any:
    def write(message: str) -> None:
        stream.write(redact_text(message))
        stream.flush()
    return write


def _redact_record(record: Any) -> None:
    """Mask secrets in every message and bound value before any sink sees them."""
    record["message"] = redact_text(record["message"])
    record["extra"].update(redact(dict(record["extra"])))


def setup_logging(level: str = "info", fmt: str = "auto", levels: str = "",
                  file: Path | None = None, rotation: str = "50 MB",
                  retention: str = "7 days") -> None:
    by_module = parse_levels(level, levels)
    lowest = min(by_module.values())
    logger.remove()
    logger.configure(extra={"correlation_id": ""}, patcher=_redact_record)
    level_filter = LevelFilter(by_module)
    limiter = RepeatLimiter()

    def wanted(record: Any) -> bool:
        return level_filter(record) and limiter(record)

    serialize = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    if serialize:
        logger.add(_redacting(sys.stderr), level=lowest, format=_json_format,
                   filter=wanted, diagnose=False, backtrace=False)
    else:
        logger.add(_redacting(sys.stderr), level=lowest, format=TEXT_FORMAT,
                   filter=wanted, diagnose=False, backtrace=False,
                   colorize=sys.stderr.isatty())
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        keep: str | int = int(retention) if retention.strip().isdigit() else retention
        logger.add(str(file), level=lowest, format=_json_format, filter=wanted,
                   rotation=rotation, retention=keep, compression=None,
                   diagnose=False, backtrace=False, enqueue=False, catch=True)
    logging.basicConfig(handlers=[_Intercept()], level=min(lowest, logging.WARNING),
                        force=True)
    logging.getLogger().setLevel(_stdlib_level(lowest))


def _stdlib_level(loguru_no: int) -> int:
    """Loguru's numbers match the stdlib's for the shared names (TRACE 5, SUCCESS 25)."""
    return max(logging.DEBUG, min(loguru_no, logging.CRITICAL))
