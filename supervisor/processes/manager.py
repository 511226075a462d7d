"""Processes the daemon starts or whose pid it knows: start, stop, and notice their exit at once.

Children stay the daemon's children (no double fork), so their exit arrives through the child
watcher instead of at the next poll. A pid the daemon did not start (read from a pidfile after
the daemon itself restarted) is watched through a pidfd, which becomes readable when it exits;
it is taken only when its start time and command line say it is the service's (identity.py).
A pid file the daemon wrote is removed when the daemon stops that process or sees it exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from loguru import logger

from supervisor.config.settings import child_environment
from supervisor.processes.identity import Identity, IdentityBook, identify, why_not
from supervisor.processes.pidfile import read_pid_file
from supervisor.processes.spec import ProcessSpec

ExitCallback = Callable[[str, int, int | None], None]
StartCallback = Callable[[str, int], None]


class ProcessManager:
    def __init__(self, log_dir: Path, on_exit: ExitCallback,
                 on_start: StartCallback | None = None,
                 identity_dir: Path | None = None) -> None:
        self.log_dir = log_dir
        self.on_exit = on_exit
        self.on_start = on_start
        self.identities = IdentityBook(identity_dir or log_dir.parent / "processes")
        self._refused: dict[str, int] = {}  # service -> pid not adopted (said once)
        self._children: dict[str, asyncio.subprocess.Process] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._pidfds: dict[str, tuple[int, int]] = {}  # service -> (pid, fd)
        self._expected: set[int] = set()  # pids we are stopping on purpose
        self.started_at: dict[str, float] = {}  # service -> monotonic time of its last start

    def pid_of(self, service: str, spec: ProcessSpec | None) -> int | None:
        child = self._children.get(service)
        if child is not None and child.returncode is None:
            return child.pid
        if service in self._pidfds:
            return self._pidfds[service][0]
        if spec is not None and spec.pid_file:
            pid = read_pid_file(spec.pid_file)
            if pid is not None and _alive(pid):
                why = why_not(pid, self.identities.recall(service), spec)
                if why is None:
                    return pid
                if self._refused.get(service) != pid:
                    self._refused[service] = pid
                    logger.warning("{}: not adopting pid {} from {}: {}", service, pid,
                                   spec.pid_file, why)
        return None

    async def start(self, service: str, spec: ProcessSpec) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{service}.log"
        # Not the daemon's own variables (its API token, webhook URLs): see settings.py.
        env = {**child_environment(os.environ), **spec.env}
        # a local append-only log file, opened once per start; kept on the loop as it was
        with open(log_path, "ab") as log:  # noqa: ASYNC230
            if spec.shell:
                proc = await asyncio.create_subprocess_shell(
                    spec.command[0], cwd=spec.cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
                    stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
            else:
                proc = await asyncio.create_subprocess_exec(
                    *spec.command, cwd=spec.cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
                    stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        if spec.pid_file:  # small local writes, kept on the loop as they were
            Path(spec.pid_file).parent.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
            Path(spec.pid_file).write_text(f"{proc.pid}\n")  # noqa: ASYNC240
        # The argv is what we passed (reading it back races the exec); the start time is
        # the kernel's, fixed at fork.
        seen = identify(proc.pid)
        self.identities.remember(service, Identity(
            proc.pid, seen.start_time if seen else time.time(), list(spec.command),
            spec.pid_file, spec.shell))
        self._children[service] = proc
        self.started_at[service] = time.monotonic()
        self._watchers[service] = asyncio.create_task(self._watch_child(service, proc),
                                                      name=f"watch:{service}")
        logger.info("started {} as pid {} (log {})", service, proc.pid, log_path)
        if self.on_start is not None:
            self.on_start(service, proc.pid)
        return proc.pid

    async def _watch_child(self, service: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if self._children.get(service) is proc:
            del self._children[service]
        self._forget_identity(service, proc.pid)
        self._report_exit(service, proc.pid, code)

    def adopt(self, service: str, pid: int) -> bool:
        """Watch a pid we did not start; its exit is reported like a child's."""
        self._forget_pidfd(service)
        try:
            fd = os.pidfd_open(pid)
        except (OSError, AttributeError):
            return False
        loop = asyncio.get_running_loop()
        self._pidfds[service] = (pid, fd)

        def exited() -> None:
            self._forget_pidfd(service)
            self._forget_identity(service, pid)
            self._report_exit(service, pid, None)

        loop.add_reader(fd, exited)
        seen = identify(pid)
        if seen is not None:  # its startup grace counts from its real start, not from now
            self.started_at[service] = time.monotonic() - max(0.0, time.time() - seen.start_time)
        logger.info("watching {} pid {} for exit", service, pid)
        return True

    def _forget_pidfd(self, service: str) -> None:
        entry = self._pidfds.pop(service, None)
        if entry is not None:
            asyncio.get_running_loop().remove_reader(entry[1])
            os.close(entry[1])

    def _forget_identity(self, service: str, pid: int) -> None:
        """The process the daemon started has gone: its pid file and record go too (only
        while they still name it: a restart may already have written the next pid)."""
        recorded = self.identities.recall(service)
        if recorded is None or recorded.pid != pid:
            return
        if recorded.pid_file and read_pid_file(recorded.pid_file) == pid:
            Path(recorded.pid_file).unlink(missing_ok=True)
        self.identities.forget(service)

    def _report_exit(self, service: str, pid: int, code: int | None) -> None:
        if pid in self._expected:
            self._expected.discard(pid)
            return
        logger.warning("{} pid {} exited (code {})", service, pid, code)
        self.on_exit(service, pid, code)

    async def stop(self, service: str, spec: ProcessSpec) -> list[int]:
        """SIGTERM (and SIGCONT, so a stopped process gets it), then SIGKILL after the timeout."""
        pid = self.pid_of(service, spec)
        if pid is None:
            return []
        self._expected.add(pid)
        group = _own_group(pid)
        _signal(pid, group, signal.SIGTERM)
        _signal(pid, group, signal.SIGCONT)
        if not await self._wait_gone(service, pid, spec.stop_timeout / 1000):
            logger.warning("{} pid {} ignored SIGTERM; sending SIGKILL", service, pid)
            _signal(pid, group, signal.SIGKILL)
            await self._wait_gone(service, pid, 5.0)
        if group:  # leftovers of the group (workers the service forked) go too
            _signal(pid, group, signal.SIGKILL)
        self._forget_pidfd(service)
        if not _alive(pid):
            self._forget_identity(service, pid)
        return [pid]

    async def _wait_gone(self, service: str, pid: int,
                         timeout: float) -> bool:  # noqa: ASYNC109 (a bound on the wait)
        child = self._children.get(service)
        if child is not None and child.pid == pid:
            try:
                await asyncio.wait_for(asyncio.shield(child.wait()), timeout)
                return True
            except TimeoutError:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            await asyncio.sleep(0.05)
        return not _alive(pid)

    async def shutdown(self, specs: dict[str, ProcessSpec]) -> None:
        """Stop the processes whose spec says stopOnExit; leave the others running."""
        for service, spec in specs.items():
            if spec.stop_on_exit:
                await self.stop(service, spec)
        for service in list(self._pidfds):
            self._forget_pidfd(service)
        for task in self._watchers.values():
            task.cancel()


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _own_group(pid: int) -> bool:
    """True when the pid leads its own process group (we started it in a new session)."""
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def _signal(pid: int, group: bool, sig: signal.Signals) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
