"""ensure_path: file-system repair. Recreate missing directories (and empty files), restore
their mode and owner, and remove stale pid/lock files whose process is gone."""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import stat
from typing import ClassVar, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, field_validator

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig


def _absolute(value: str) -> str:
    if not os.path.isabs(value):
        raise ValueError(f"{value!r} must be an absolute path")
    return value


class PathSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    path: str = Field(description="An absolute path.", json_schema_extra={"pattern": "^/"})
    type: Literal["directory", "file"] = "directory"
    mode: str | None = Field(default=None, pattern=r"^0?[0-7]{3,4}$",
                             description="Octal permissions, e.g. \"0750\".")
    owner: str | int | None = Field(default=None, description="User name or uid.")
    group: str | int | None = Field(default=None, description="Group name or gid.")

    @field_validator("path")
    @classmethod
    def _abs(cls, value: str) -> str:
        return _absolute(value)


class EnsurePathConfig(StrategyConfig):
    strategy: Literal["ensure_path"] = "ensure_path"
    paths: list[PathSpec] = Field(default_factory=list,
                                  description="Paths that must exist with this mode/owner.")
    stale_files: list[str] = Field(default_factory=list, alias="staleFiles",
                                   json_schema_extra={"items": {"type": "string",
                                                                "pattern": "^/"}},
                                   description="pid/lock files to remove when the pid they "
                                               "name is not running (or they name none).")

    @field_validator("stale_files")
    @classmethod
    def _abs_stale(cls, files: list[str]) -> list[str]:
        return [_absolute(f) for f in files]


def _uid(owner: str | int | None) -> int:
    if owner is None:
        return -1
    if isinstance(owner, int) or owner.isdigit():
        return int(owner)
    return pwd.getpwnam(owner).pw_uid


def _gid(group: str | int | None) -> int:
    if group is None:
        return -1
    if isinstance(group, int) or group.isdigit():
        return int(group)
    return grp.getgrnam(group).gr_gid


def _pid_in(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read(64).split()
        return int(text[0]) if text else None
    except (OSError, ValueError):
        return None


def repair(config: EnsurePathConfig, dry_run: bool) -> tuple[list[str], list[str]]:
    """Blocking: returns (what was (or would be) fixed, what could not be)."""
    fixed: list[str] = []
    failed: list[str] = []
    would = "would " if dry_run else ""
    for spec in config.paths:
        try:
            st = os.lstat(spec.path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            failed.append(f"{spec.path}: {exc.strerror}")
            continue
        try:
            if st is not None and stat.S_ISLNK(st.st_mode):
                failed.append(f"{spec.path} is a symlink; left alone")
                continue
            mode = int(spec.mode, 8) if spec.mode else None
            if st is None:
                fixed.append(f"{would}create {spec.type} {spec.path}")
                if not dry_run:
                    if spec.type == "directory":
                        os.makedirs(spec.path, mode=mode if mode is not None else 0o755,
                                    exist_ok=True)
                    else:
                        os.makedirs(os.path.dirname(spec.path), exist_ok=True)
                        fd = os.open(spec.path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW,
                                     mode if mode is not None else 0o644)
                        os.close(fd)
                    st = os.lstat(spec.path)
            if st is None:  # dry run of a missing path: its mode/owner follow on creation
                continue
            want_dir = spec.type == "directory"
            if want_dir != stat.S_ISDIR(st.st_mode):
                failed.append(f"{spec.path} exists but is not a {spec.type}")
                continue
            if mode is not None and stat.S_IMODE(st.st_mode) != mode:
                fixed.append(f"{would}chmod {spec.path} {stat.S_IMODE(st.st_mode):04o} -> "
                             f"{mode:04o}")
                if not dry_run:
                    os.chmod(spec.path, mode, follow_symlinks=False)
            uid, gid = _uid(spec.owner), _gid(spec.group)
            if (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid):
                fixed.append(f"{would}chown {spec.path} {st.st_uid}:{st.st_gid} -> "
                             f"{uid if uid != -1 else st.st_uid}:"
                             f"{gid if gid != -1 else st.st_gid}")
                if not dry_run:
                    os.chown(spec.path, uid, gid, follow_symlinks=False)
        except (OSError, KeyError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else f"unknown user/group {exc}"
            failed.append(f"{spec.path}: {why}")
    for path in config.stale_files:
        if not os.path.lexists(path):
            continue
        pid = _pid_in(path)
        if pid is not None and psutil.pid_exists(pid):
            continue
        fixed.append(f"{would}remove stale {path}"
                     + (f" (pid {pid} is gone)" if pid is not None else " (names no pid)"))
        if not dry_run:
            try:
                os.unlink(path)
            except OSError as exc:
                failed.append(f"{path}: {exc.strerror}")
    return fixed, failed


@registry.register("ensure_path")
class EnsurePath(RecoveryStrategy):
    name: ClassVar[str] = "ensure_path"
    config_model: ClassVar[type[StrategyConfig]] = EnsurePathConfig
    config: EnsurePathConfig

    def plan(self) -> str:
        parts = [f"{p.type} {p.path}" + (f" mode {p.mode}" if p.mode else "")
                 for p in self.config.paths]
        if self.config.stale_files:
            parts.append(f"stale files {self.config.stale_files}")
        return "ensure " + "; ".join(parts or ["nothing (no paths configured)"])

    async def run(self, ctx: RecoveryContext) -> Outcome:
        fixed, failed = await asyncio.to_thread(repair, self.config, ctx.dry_run)
        output = "\n".join(fixed + [f"FAILED {f}" for f in failed])
        if failed:
            return Outcome(False, f"could not repair: {'; '.join(failed)}", output=output,
                           details={"fixed": fixed, "failed": failed})
        if not fixed:
            return Outcome(True, "nothing to repair: every path is as configured",
                           details={"fixed": []})
        return Outcome(True, "; ".join(fixed), output=output, details={"fixed": fixed})
