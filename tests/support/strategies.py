"""Recovery strategies built from their config the way the daemon does, the context they run in,
and files with a given size and age for the file-system repairs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import recovery_strategies
from recovery_strategies.base import RecoveryContext, RecoveryStrategy
from supervisor.clients.http import HttpClient
from supervisor.processes.manager import ProcessManager


def strategy(name: str, **config: Any) -> RecoveryStrategy:
    cls = recovery_strategies.registry.get(name)
    step: RecoveryStrategy = cls(cls.config_model.model_validate({"strategy": name, **config}),
                                 "svc")
    return step


def context(tmp_path: Path, dry_run: bool = False) -> RecoveryContext:
    return RecoveryContext(service="svc", correlation_id="inc_test",
                           processes=ProcessManager(tmp_path / "logs", lambda *_: None),
                           http=HttpClient(), dry_run=dry_run)  # file repairs: no HTTP


def write(path: Path, size: int, age_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path
