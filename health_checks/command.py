"""Command check: run an argv with a timeout; the exit code and optionally its output decide."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from health_checks import registry
from health_checks.base import (
    CheckConfig,
    CheckKind,
    CheckResult,
    HealthCheck,
    compile_regex,
    elapsed_ms,
)
from supervisor.core.redaction import redact_text

MAX_OUTPUT = 64 * 1024


class CommandCheckConfig(CheckConfig):
    type: Literal["command"] = "command"
    command: list[str] = Field(min_length=1, description="argv; never run through a shell.")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict, description="Added to the environment.")
    expect_exit: list[int] = Field(default_factory=lambda: [0], alias="expectExit",
                                   description="Exit codes that mean healthy.")
    output_matches: str | None = Field(None, alias="outputMatches",
                                       description="Regex that stdout+stderr must contain.")

    @field_validator("output_matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            compile_regex(v)
        return v


@registry.register("command")
class CommandCheck(HealthCheck):
    type_name: ClassVar[str] = "command"
    config_model: ClassVar[type[CheckConfig]] = CommandCheckConfig
    config: CommandCheckConfig

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                *cfg.command, cwd=cfg.cwd, env={**os.environ, **cfg.env},
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return self.result(CheckKind.UNHEALTHY, elapsed_ms(started),
                               f"cannot run {cfg.command[0]}: {exc.strerror or exc}")
        try:
            async with asyncio.timeout(cfg.timeout_s):
                assert proc.stdout is not None
                output = await proc.stdout.read(MAX_OUTPUT)
                await proc.wait()
        except TimeoutError:
            return self.result(CheckKind.STALLED, elapsed_ms(started),
                               f"{cfg.command[0]} did not finish within {cfg.timeout:.0f} ms")
        finally:
            if proc.returncode is None:
                # Its own session: the whole group goes, grandchildren included.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        latency = elapsed_ms(started)
        text = redact_text(output.decode(errors="replace"))
        tail = text[-500:].strip()
        if proc.returncode not in cfg.expect_exit:
            return self.result(CheckKind.UNHEALTHY, latency,
                               f"{cfg.command[0]} exited with {proc.returncode}"
                               + (f": {tail}" if tail else ""), exitCode=proc.returncode)
        if cfg.output_matches is not None and not re.search(cfg.output_matches, text):
            return self.result(CheckKind.UNHEALTHY, latency,
                               f"output of {cfg.command[0]} does not match "
                               f"{cfg.output_matches!r}: {tail[-200:]}",
                               exitCode=proc.returncode)
        return self.result(CheckKind.HEALTHY, latency, exitCode=proc.returncode)
