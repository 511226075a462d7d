"""Build a check plugin from its config the way the daemon does (registry + config model)."""

from __future__ import annotations

from typing import Any

import health_checks
from health_checks.base import CheckEnv, HealthCheck


def make_check(type_: str, service: str = "svc", env: CheckEnv | None = None,
               **cfg: Any) -> HealthCheck:
    """Without `env` the check gets its own (fine for checks that open no HTTP session)."""
    cls = health_checks.registry.get(type_)
    check: HealthCheck = cls(cls.config_model.model_validate({"type": type_, **cfg}), service,
                             env)
    return check
