"""disk_cleanup: delete old files matching globs, only inside the configured directories.

Never follows a symlink (a link inside the directory is neither followed nor deleted), checks
again right before each delete that the path is still a regular file under the directory, and
stops at a byte, a file-count or a target-usage cap. Reports what it freed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import PurePath
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig


class DiskCleanupConfig(StrategyConfig):
    strategy: Literal["disk_cleanup"] = "disk_cleanup"
    directories: list[str] = Field(min_length=1, description="Absolute directories to clean.",
                                   json_schema_extra={"items": {"type": "string",
                                                                "pattern": "^/"}})
    patterns: list[str] = Field(default_factory=lambda: ["*"],
                                description="Globs on the file name or the path relative to "
                                            "the directory, e.g. *.log or archive/*.gz.")
    older_than: float = Field(default=86_400_000, ge=0, alias="olderThan",
                              description="ms since the last modification; default one day.")
    order: Literal["oldest", "largest"] = "oldest"
    recursive: bool = True
    max_bytes: int | None = Field(default=None, ge=1, alias="maxBytes",
                                  description="Stop once this many bytes are freed.")
    max_files: int = Field(default=1000, ge=1, alias="maxFiles",
                           description="Delete at most this many files per run.")
    target_usage_percent: float | None = Field(
        default=None, gt=0, lt=100, alias="targetUsagePercent",
        description="Stop once the filesystem's usage is at or below this.")

    @field_validator("directories")
    @classmethod
    def _absolute(cls, dirs: list[str]) -> list[str]:
        for i, d in enumerate(dirs):
            if not os.path.isabs(d):
                raise ValueError(f"[{i}] {d!r} must be an absolute path")
            if os.path.normpath(d) == "/":
                raise ValueError(f"[{i}] refusing to clean the root directory")
        return dirs


@dataclass(slots=True)
class Candidate:
    path: str
    root: str
    size: int
    mtime: float
    ino: int


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), root]) == root


class Cleaner:
    """The blocking part, run in a thread."""

    def __init__(self, config: DiskCleanupConfig) -> None:
        self.config = config
        self.skipped_links = 0
        self.notes: list[str] = []

    def _matches(self, rel: str) -> bool:
        name = PurePath(rel).name
        return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p)
                   for p in self.config.patterns)

    def candidates(self, now: float) -> list[Candidate]:
        found: list[Candidate] = []
        for directory in self.config.directories:
            root = os.path.realpath(directory)
            if not os.path.isdir(root):
                self.notes.append(f"{directory} does not exist")
                continue
            self._walk(root, root, now, found)
        if self.config.order == "largest":
            found.sort(key=lambda c: (-c.size, c.mtime))
        else:
            found.sort(key=lambda c: (c.mtime, -c.size))
        return found

    def _walk(self, root: str, folder: str, now: float, found: list[Candidate]) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            self.notes.append(f"cannot list {folder}: {exc.strerror}")
            return
        for entry in entries:
            try:
                if entry.is_symlink():
                    self.skipped_links += 1
                elif entry.is_dir(follow_symlinks=False):
                    if self.config.recursive:
                        self._walk(root, entry.path, now, found)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    rel = os.path.relpath(entry.path, root)
                    if self._matches(rel) and (now - st.st_mtime) * 1000 >= self.config.older_than:
                        found.append(Candidate(entry.path, root, st.st_size, st.st_mtime,
                                               st.st_ino))
            except OSError:
                continue

    def run(self, dry_run: bool) -> tuple[int, list[str]]:
        """Delete (or, dry, list) files in order until a cap; returns (bytes freed, lines)."""
        cfg = self.config
        now = time.time()
        usage: dict[str, tuple[int, int, int]] = {}
        freed = 0
        lines: list[str] = []
        for c in self.candidates(now):
            if len(lines) >= cfg.max_files:
                break
            if cfg.max_bytes is not None and freed >= cfg.max_bytes:
                break
            if cfg.target_usage_percent is not None:
                if c.root not in usage:
                    du = shutil.disk_usage(c.root)
                    usage[c.root] = (du.total, du.used, du.free)
                total, used, _ = usage[c.root]
                if total and (used - freed) * 100 / total <= cfg.target_usage_percent:
                    break
            if not dry_run:
                try:
                    st = os.lstat(c.path)
                    # Re-checked right before deleting: still the same regular file, and its
                    # folder was not swapped for a link to somewhere else meanwhile.
                    if (not stat.S_ISREG(st.st_mode) or st.st_ino != c.ino
                            or not _inside(os.path.dirname(c.path), c.root)):
                        continue
                    os.unlink(c.path)
                except OSError:
                    continue
            freed += c.size
            age_h = (now - c.mtime) / 3600
            lines.append(f"{c.path} {c.size} B, {age_h:.1f} h old")
        return freed, lines


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


@registry.register("disk_cleanup")
class DiskCleanup(RecoveryStrategy):
    name: ClassVar[str] = "disk_cleanup"
    config_model: ClassVar[type[StrategyConfig]] = DiskCleanupConfig
    config: DiskCleanupConfig

    def plan(self) -> str:
        c = self.config
        caps = [f"at most {c.max_files} files"]
        if c.max_bytes:
            caps.append(f"{human_bytes(c.max_bytes)}")
        if c.target_usage_percent:
            caps.append(f"until usage <= {c.target_usage_percent:g} %")
        return (f"delete {c.order} files matching {c.patterns} older than "
                f"{c.older_than / 1000:g} s in {c.directories} ({', '.join(caps)})")

    async def run(self, ctx: RecoveryContext) -> Outcome:
        cleaner = Cleaner(self.config)
        freed, lines = await asyncio.to_thread(cleaner.run, ctx.dry_run)
        verb = "would free" if ctx.dry_run else "freed"
        extra = ([f"skipped {cleaner.skipped_links} symlink(s)"] if cleaner.skipped_links
                 else []) + cleaner.notes
        message = f"{verb} {human_bytes(freed)} in {len(lines)} file(s)"
        if extra:
            message += f" ({'; '.join(extra)})"
        details = {"freedBytes": freed, "files": len(lines), "dryRun": ctx.dry_run}
        return Outcome(bool(lines), message if lines else f"nothing to clean: {message}",
                       output="\n".join(lines), details=details)
