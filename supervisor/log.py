"""Logging through loguru: readable in a terminal, JSON lines otherwise; stdlib routed in."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import Any

from loguru import logger

from supervisor.redaction import redact, redact_text

TEXT_FORMAT = ("<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
               "<cyan>{name}</cyan> {message}"
               "<dim>{extra[correlation_id]}</dim>")


class _Intercept(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def _json_sink(message: Any) -> None:
    """One compact JSON object per line: what a log shipper wants."""
    r = message.record
    line = {"time": r["time"].isoformat(), "level": r["level"].name, "logger": r["name"],
            "message": r["message"]}
    line.update({k: v for k, v in r["extra"].items() if v not in ("", None)})
    if r["exception"] is not None:
        line["exception"] = repr(r["exception"].value)
        line["traceback"] = "".join(traceback.format_exception(
            r["exception"].type, r["exception"].value, r["exception"].traceback))
    sys.stderr.write(json.dumps(line, default=str) + "\n")


def _redact_record(record: Any) -> None:
    """Mask secrets in every message and bound value before any sink sees them."""
    record["message"] = redact_text(record["message"])
    record["extra"].update(redact(dict(record["extra"])))


def setup_logging(level: str = "info", fmt: str = "auto") -> None:
    logger.remove()
    logger.configure(extra={"correlation_id": ""}, patcher=_redact_record)
    serialize = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    if serialize:
        logger.add(_json_sink, level=level.upper(), diagnose=False, backtrace=False)
    else:
        logger.add(sys.stderr, level=level.upper(), format=TEXT_FORMAT, diagnose=False,
                   backtrace=False, colorize=sys.stderr.isatty())
    logging.basicConfig(handlers=[_Intercept()], level=logging.WARNING, force=True)
