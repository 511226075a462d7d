"""SQLite check: each file of a glob opens and answers `SELECT 1`; `PRAGMA quick_check` on an
interval; the file's size against a limit. The platform keeps one SQLite file per user.
"""

from __future__ import annotations

import asyncio
import glob
import os
import sqlite3
import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from health_checks import registry
from health_checks.base import (
    CheckConfig,
    CheckEnv,
    CheckKind,
    CheckResult,
    HealthCheck,
    elapsed_ms,
)


class SqliteCheckConfig(CheckConfig):
    type: Literal["sqlite"] = "sqlite"
    path: str = Field(description="A file, or a glob such as /srv/users/*/db.sqlite.")
    min_files: int = Field(1, ge=0, alias="minFiles",
                           description="Fewer matching files than this is unhealthy.")
    quick_check_interval: float = Field(3_600_000, ge=0, alias="quickCheckInterval",
                                        description="ms between PRAGMA quick_check of a file; "
                                                    "0 runs it every time.")
    max_size_mb: float | None = Field(None, gt=0, alias="maxSizeMb")


@registry.register("sqlite")
class SqliteCheck(HealthCheck):
    type_name: ClassVar[str] = "sqlite"
    config_model: ClassVar[type[CheckConfig]] = SqliteCheckConfig
    config: SqliteCheckConfig

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        self._last_quick: dict[str, float] = {}  # file → monotonic time of its last quick_check

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        files = await asyncio.to_thread(_files, cfg.path)
        if len(files) < cfg.min_files:
            return self.result(CheckKind.UNHEALTHY, 0.0,
                               f"{len(files)} file(s) match {cfg.path} (need {cfg.min_files})")
        now = time.monotonic()
        due = {f for f in files
               if now - self._last_quick.get(f, -1e18) >= cfg.quick_check_interval / 1000}
        try:
            async with asyncio.timeout(cfg.timeout_s):
                # One thread for the whole glob; the timeout abandons a locked file's wait.
                outcome = await asyncio.to_thread(_probe_all, files, due, cfg.timeout_s)
        except TimeoutError:
            return self.result(CheckKind.STALLED, elapsed_ms(started),
                               f"SQLite files under {cfg.path} did not answer within "
                               f"{cfg.timeout:.0f} ms")
        for f in due:
            self._last_quick[f] = now
        latency = elapsed_ms(started)
        sizes = {f: s for f, (s, _) in outcome.items()}
        details: dict[str, Any] = {"files": len(files),
                                   "totalMb": round(sum(sizes.values()) / 1_048_576, 2)}
        bad = {f: problem for f, (_, problem) in outcome.items() if problem}
        if bad:
            first = next(iter(bad))
            stalled = all(p.startswith("locked") for p in bad.values())
            return self.result(CheckKind.STALLED if stalled else CheckKind.UNHEALTHY, latency,
                               f"{len(bad)} of {len(files)} SQLite file(s) failing; "
                               f"{first}: {bad[first]}", failing=sorted(bad)[:20], **details)
        if cfg.max_size_mb is not None:
            big = {f: s for f, s in sizes.items() if s / 1_048_576 > cfg.max_size_mb}
            if big:
                f = max(big, key=big.__getitem__)
                return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                                   f"{f} is {big[f] / 1_048_576:.1f} MB "
                                   f"(limit {cfg.max_size_mb:.0f} MB)", resource="disk",
                                   tooBig=sorted(big)[:20], **details)
        return self.result(CheckKind.HEALTHY, latency, **details)


def _files(pattern: str) -> list[str]:
    if glob.has_magic(pattern):
        return sorted(glob.glob(pattern))
    return [pattern] if os.path.exists(pattern) else []


def _probe_all(files: list[str], due: set[str], timeout_s: float) -> dict[str, tuple[int, str]]:
    return {f: _probe(f, f in due, timeout_s) for f in files}


def _probe(path: str, quick_check: bool, timeout_s: float) -> tuple[int, str]:
    """(size in bytes, problem or '') for one file, opened read-only."""
    try:
        size = os.path.getsize(path)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_s)
    except (OSError, sqlite3.Error) as exc:
        return 0, f"cannot open: {exc}"
    try:
        conn.execute("SELECT 1").fetchone()
        if quick_check:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            if rows != ["ok"]:
                return size, "quick_check: " + "; ".join(str(r) for r in rows[:3])
        else:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return size, ""
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return size, f"locked: {exc}"
        return size, str(exc)
    except sqlite3.DatabaseError as exc:
        return size, str(exc)
    finally:
        conn.close()
