"""Live reload of services.json: on SIGHUP, on POST /api/monitoring/reload, on a change on disk.

A reload validates the whole file first; only a valid file is applied, and then only the
services it adds, removes or changes are touched (their checks restarted), so the others keep
their state, their phase and any recovery in flight. A file that does not validate is rejected
with the validation message (logged, stored as an error, returned to the caller) and the last
good configuration keeps running.

The watcher polls the file's identity (inode, size, mtime) rather than holding an inotify
watch on it: an editor that replaces the file by rename gets a new inode, which a watch on the
old one would miss. A change is applied only once the file has stopped changing for a moment,
so a half-written file is normally never read; if one is (a writer slower than that), it fails
validation like any bad file and the completed write reloads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from supervisor.config.loader import config_from_text
from supervisor.config.safety import UnsafeSetup, check_config_file
from supervisor.config.services import ConfigError
from supervisor.config.settings import Settings
from supervisor.core.events import EventBus
from supervisor.core.incidents import error_row
from supervisor.core.tasks import cancel_and_wait
from supervisor.core.taxonomy import Category, Classification, Level, Severity
from supervisor.store.database import Store
from supervisor.systemd.notify import Notifier


class ReloadTarget(Protocol):
    """What a reload needs of the daemon: the running config, and a way to apply a new one."""

    settings: Settings
    config: Any
    notifier: Notifier
    bus: EventBus
    store: Store

    def status_line(self) -> str: ...

    async def apply_config(self, config: Any, added: list[str], removed: list[str],
                           changed: list[str]) -> None: ...

Signature = tuple[int, int, int, int] | None
CONFIG_INVALID = Classification("config_invalid", Category.VALIDATION_FAILED, Level.SYSTEM,
                                Severity.HIGH)


@dataclass
class ReloadResult:
    ok: bool
    trigger: str
    dry_run: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    error_id: str | None = None
    at: float = field(default_factory=time.time)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "trigger": self.trigger, "dryRun": self.dry_run,
                               "added": self.added, "removed": self.removed,
                               "changed": self.changed, "unchanged": self.unchanged,
                               "at": round(self.at * 1000)}
        if not self.ok:
            out.update(error=self.error, problems=self.problems, errorId=self.error_id,
                       kept="the last valid configuration keeps running")
        return out


def enabled_services(config: Any) -> dict[str, Any]:
    return {n: s for n, s in config.error_monitoring.services.items() if s.enabled}


def diff_services(old: dict[str, Any], new: dict[str, Any]
                  ) -> tuple[list[str], list[str], list[str], list[str]]:
    """(added, removed, changed, unchanged) service names between two enabled-service maps."""
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed: list[str] = []
    unchanged: list[str] = []
    for name in sorted(set(old) & set(new)):
        same = old[name].model_dump(mode="json") == new[name].model_dump(mode="json")
        (unchanged if same else changed).append(name)
    return added, removed, changed, unchanged


def file_signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class ConfigReloader:
    def __init__(self, daemon: ReloadTarget, poll_interval_s: float = 1.0,
                 settle_s: float = 0.3) -> None:
        self.daemon = daemon
        self.path = Path(daemon.settings.config)
        self.poll_interval_s = poll_interval_s
        self.settle_s = settle_s
        self.last: ReloadResult | None = None
        self._lock = asyncio.Lock()
        self._applied_digest: str | None = None
        self._rejected: tuple[str, tuple[str, ...]] | None = None  # last stored rejection
        self._rejected_id: str | None = None
        self._open_errors: list[tuple[str, float]] = []  # stored rejections not yet fixed
        self._seen: Signature = file_signature(self.path)
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._pending: str | None = None
        self._spawned: set[asyncio.Task[Any]] = set()

    def remember_current(self) -> None:
        """Called once the daemon has loaded the file itself: what is on disk is applied."""
        self._seen = file_signature(self.path)
        try:
            self._applied_digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            self._applied_digest = None

    # -- triggers ---------------------------------------------------------------------------
    def start_watching(self) -> None:
        """The daemon is up: watch the file, and serve a reload asked for during startup."""
        self._started = True
        if self.poll_interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._watch(), name="config-watch")
        if self._pending is not None:
            self.reload_soon(self._pending)
            self._pending = None

    def reload_soon(self, trigger: str) -> None:
        """For a signal handler: reload in a task of its own (once the daemon is up)."""
        if not self._started:
            self._pending = trigger
            return
        task = asyncio.create_task(self.reload(trigger), name=f"reload:{trigger}")
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._spawned) if t is not None]
        await cancel_and_wait(tasks)
        self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            sig = file_signature(self.path)
            if sig == self._seen:
                continue
            # Wait until the writer is done: the same identity twice, settle_s apart.
            while True:
                await asyncio.sleep(self.settle_s)
                again = file_signature(self.path)
                if again == sig:
                    break
                sig = again
            self._seen = sig
            if sig is None:
                logger.warning("{} disappeared; the running configuration stays", self.path)
                continue
            try:
                await self.reload("file change", only_if_new=True)
            except Exception:
                logger.exception("reload after a change of {} failed", self.path)

    # -- the reload -------------------------------------------------------------------------
    async def reload(self, trigger: str, dry_run: bool = False,
                     only_if_new: bool = False) -> ReloadResult:
        async with self._lock:
            notify = self.daemon.notifier
            if not dry_run:
                notify.reloading()
            try:
                result = await self._reload(trigger, dry_run, only_if_new)
            finally:
                if not dry_run:
                    notify.ready(self.daemon.status_line())
            if not dry_run and result is not None:
                self.last = result
                self.daemon.bus.publish("config_reloaded" if result.ok else "config_rejected",
                                        None, None, **result.to_api())
            return result or ReloadResult(ok=True, trigger=trigger)

    async def _reload(self, trigger: str, dry_run: bool,
                      only_if_new: bool) -> ReloadResult | None:
        self._seen = file_signature(self.path)
        try:
            check_config_file(self.path)
            raw = await asyncio.to_thread(self.path.read_bytes)
        except UnsafeSetup as exc:
            return await self._reject(trigger, dry_run, str(exc), [str(exc)], "unsafe")
        except OSError as exc:
            msg = f"cannot read {self.path}: {exc.strerror or exc}"
            return await self._reject(trigger, dry_run, f"{self.path} is invalid:\n  {msg}",
                                      [msg], "unreadable")
        digest = hashlib.sha256(raw).hexdigest()
        if only_if_new and digest == self._applied_digest:
            return None  # touched or replaced by the same content: nothing to do
        try:
            config = config_from_text(raw, self.path, self.daemon.settings)
        except ConfigError as exc:
            return await self._reject(trigger, dry_run, str(exc), exc.problems, digest)
        except Exception as exc:  # our bug, but the reload is still refused and recorded
            logger.exception("validating {} failed", self.path)
            msg = f"cannot validate {self.path}: {type(exc).__name__}: {str(exc)[:300]}"
            return await self._reject(trigger, dry_run, msg, [msg], digest)
        old, new = enabled_services(self.daemon.config), enabled_services(config)
        added, removed, changed, unchanged = diff_services(old, new)
        result = ReloadResult(ok=True, trigger=trigger, dry_run=dry_run, added=added,
                              removed=removed, changed=changed, unchanged=unchanged)
        if dry_run:
            return result
        await self.daemon.apply_config(config, added, removed, changed)
        self._applied_digest = digest
        self._rejected = None
        await self._resolve_rejections()
        logger.info("reloaded {} ({}): {} added, {} removed, {} changed, {} unchanged",
                    self.path, trigger, _names(added), _names(removed), _names(changed),
                    len(unchanged))
        return result

    async def _reject(self, trigger: str, dry_run: bool, message: str, problems: list[str],
                      key: str) -> ReloadResult:
        result = ReloadResult(ok=False, trigger=trigger, dry_run=dry_run, error=message,
                              problems=problems)
        if dry_run:
            return result
        logger.error("{} rejected ({}); the last valid configuration keeps running: {}",
                     self.path, trigger, message)
        # The same bad file seen again (a second SIGHUP, a touch) is not a new error.
        if self._rejected is not None and self._rejected == (key, tuple(problems)):
            result.error_id = self._rejected_id
            return result
        result.error_id = await self._store_error(message, problems, trigger)
        self._rejected = (key, tuple(problems))
        self._rejected_id = result.error_id
        if result.error_id is not None:
            self._open_errors.append((result.error_id, result.at))
        return result

    async def _resolve_rejections(self) -> None:
        """A valid file fixes every rejection before it: close those errors."""
        now = time.time()
        for error_id, at in self._open_errors:
            try:
                await self.daemon.store.update_error(error_id, recovered=1, status="resolved",
                                                     recovery_time_ms=round((now - at) * 1000))
            except Exception:
                logger.exception("cannot mark error {} resolved", error_id)
        self._open_errors.clear()

    async def _store_error(self, message: str, problems: list[str], trigger: str) -> str | None:
        row = error_row(CONFIG_INVALID, None, message,
                        context={"file": str(self.path), "trigger": trigger,
                                 "problems": problems}, source="config")
        try:
            await self.daemon.store.insert_error(row)
        except Exception:
            logger.exception("cannot store the rejected configuration as an error")
            return None
        return str(row["id"])


def _names(names: list[str]) -> str:
    return f"{len(names)} ({', '.join(names)})" if names else "0"
