"""Errors check: the errors a service reported itself (Sentry SDKs, POST
/api/monitoring/errors) become its health. More than `maxErrors` errors, or more than
`maxUnhandled` unhandled ones, within `window` fail the check (so the service's ladder runs:
a worker throwing in a loop is restarted); more than `degradedErrors` make it degraded. The
message names the most frequent exception, its top in-app frame and how often it came.

The counts come from the daemon's ErrorRates, handed in with the check's env (`env.errors`);
errors from before a restart of the service do not count against the new process.
"""

from __future__ import annotations

import time
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from health_checks import registry
from health_checks.base import CheckConfig, CheckKind, CheckResult, HealthCheck


class ErrorsCheckConfig(CheckConfig):
    type: Literal["errors"] = "errors"
    window: float = Field(60000, gt=0, le=3_600_000,
                          description="ms of reported errors that count (at most 1 h).")
    max_errors: int | None = Field(10, ge=0, alias="maxErrors",
                                   description="More errors than this within window: failing.")
    max_unhandled: int | None = Field(None, ge=0, alias="maxUnhandled",
                                      description="More unhandled errors (crashes, unhandled "
                                                  "rejections) than this: failing.")
    degraded_errors: int | None = Field(None, ge=0, alias="degradedErrors",
                                        description="More errors than this: degraded.")

    @model_validator(mode="after")
    def _some_limit(self) -> ErrorsCheckConfig:
        if self.max_errors is None and self.max_unhandled is None and \
                self.degraded_errors is None:
            raise ValueError("set maxErrors, maxUnhandled or degradedErrors")
        return self


@registry.register("errors")
class ErrorsCheck(HealthCheck):
    type_name: ClassVar[str] = "errors"
    config_model: ClassVar[type[CheckConfig]] = ErrorsCheckConfig
    config: ErrorsCheckConfig
    sees_the_service: ClassVar[bool] = False

    async def run(self) -> CheckResult:
        started = time.monotonic()
        cfg = self.config
        w = self.env.errors.window(self.service, cfg.window / 1000)
        secs = f"{cfg.window / 1000:g} s"
        counts = f"{w.total} error(s) in the last {secs} ({w.unhandled} unhandled)"
        where = f" at {w.top_frame}" if w.top_frame else ""
        top = f"; most: {w.top_label}{where} ({w.top_count}×)" if w.top_count else ""
        details = {"errors": w.total, "unhandled": w.unhandled, "windowMs": cfg.window,
                   "exception": w.top_label or None, "frame": w.top_frame or None,
                   "count": w.top_count, "fingerprint": w.top_fingerprint or None,
                   "category": w.top_category or None, "groups": w.groups}
        latency = (time.monotonic() - started) * 1000
        over = []
        if cfg.max_unhandled is not None and w.unhandled > cfg.max_unhandled:
            over.append(f"maxUnhandled {cfg.max_unhandled}")
        if cfg.max_errors is not None and w.total > cfg.max_errors:
            over.append(f"maxErrors {cfg.max_errors}")
        if over:
            return self.result(CheckKind.UNHEALTHY, latency,
                               f"{counts}, over {' and '.join(over)}{top}", **details)
        if cfg.degraded_errors is not None and w.total > cfg.degraded_errors:
            return self.result(CheckKind.DEGRADED, latency,
                               f"{counts}, over degradedErrors {cfg.degraded_errors}{top}",
                               **details)
        return self.result(CheckKind.HEALTHY, latency, counts, **details)
