"""Faults of the service's own process: it dies, hangs, answers wrong or slowly, leaks, or
stops working while it still answers. Each needs nothing beyond Python."""

from __future__ import annotations

import signal

from supervisor.selftest.catalogue.tools import base_url, kill, pid_file, post, write
from supervisor.selftest.faults import Fault, Setup
from supervisor.selftest.lab import Lab

RESTART = "restart_command"


def monit_block(name: str, entry: dict[str, object], tests: str) -> str:
    """A Monit `check process` block for a throwaway service: start and stop as the daemon
    does, plus `tests` (lines such as `if failed port ... then restart`)."""
    restart = entry["restart"]
    assert isinstance(restart, dict)
    argv = " ".join(restart["command"])
    pid = restart["pidFile"]
    return (f"check process {name} with pidfile {pid}\n"
            f"  start program = \"/bin/sh -c '{argv} >/dev/null 2>&1 &'\" with timeout 20 seconds\n"
            f"  stop program = \"/bin/sh -c 'kill -CONT $(cat {pid}); kill -TERM $(cat {pid})'\"\n"
            + "".join(f"  {line}\n" for line in tests.strip().splitlines()))


def http_test(entry: dict[str, object]) -> str:
    return (f"if failed host 127.0.0.1 port {entry['port']} protocol http request \"/health\" "
            "with timeout 1 seconds then restart")


def crash(lab: Lab) -> Setup:
    svc = lab.service("crash")
    return Setup({"crash": svc}, "crash", lambda: kill(svc, signal.SIGKILL),
                 monit=monit_block("crash", svc, http_test(svc)))


def crash_loop(lab: Lab) -> Setup:
    starts = lab.folder("crash-loop") / "fail-starts"
    svc = lab.service("crash-loop", "--fail-starts-file", str(starts))

    def inject() -> None:
        write(starts, "2")  # the next two starts exit at once; the third stays up
        kill(svc, signal.SIGKILL)
    return Setup({"crash-loop": svc}, "crash-loop", inject,
                 monit=monit_block("crash-loop", svc, http_test(svc)))


def hang(lab: Lab) -> Setup:
    svc = lab.service("hang")
    return Setup({"hang": svc}, "hang", lambda: kill(svc, signal.SIGSTOP),
                 monit=monit_block("hang", svc, http_test(svc)))


def deadlock(lab: Lab) -> Setup:
    svc = lab.service("deadlock")
    return Setup({"deadlock": svc}, "deadlock", lambda: post(base_url(svc) + "/deadlock"),
                 monit=monit_block("deadlock", svc, http_test(svc)))


def http_500(lab: Lab) -> Setup:
    svc = lab.service("http-500", ladder=[{"strategy": "signal", "signal": "HUP",
                                           "attempts": 1}, "restart"])
    return Setup({"http-500": svc}, "http-500", lambda: post(base_url(svc) + "/fail"),
                 monit=monit_block("http-500", svc, http_test(svc)))


def slow_answers(lab: Lab) -> Setup:
    svc = lab.service("slow-answers", degradedThreshold=300)
    url = base_url(svc)
    return Setup({"slow-answers": svc}, "slow-answers",
                 lambda: post(url + "/slowdown?ms=600"), undo=lambda: post(url + "/fast"),
                 may_act_on=set(), monit=None)


def slow_start(lab: Lab) -> Setup:
    delay = lab.folder("slow-start") / "startup-delay"
    svc = lab.service("slow-start", "--startup-delay-file", str(delay))

    def inject() -> None:
        write(delay, "3.5")  # a restart takes 3.5 s to listen: longer than the 1 s interval
        kill(svc, signal.SIGKILL)
    return Setup({"slow-start": svc}, "slow-start", inject,
                 monit=monit_block("slow-start", svc, http_test(svc)))


def memory_leak(lab: Lab) -> Setup:
    svc = lab.service("memory-leak")
    svc["checks"] = [{"type": "process", "pidFile": str(pid_file(svc)), "maxRssMb": 120}]
    return Setup({"memory-leak": svc}, "memory-leak",
                 lambda: post(base_url(svc) + "/leak-memory?mbps=60"),
                 monit=monit_block("memory-leak", svc,
                                   http_test(svc) + "\nif totalmem > 120 MB then restart"))


def fd_leak(lab: Lab) -> Setup:
    svc = lab.service("fd-leak")
    svc["checks"] = [{"type": "process", "pidFile": str(pid_file(svc)), "maxOpenFiles": 200}]
    return Setup({"fd-leak": svc}, "fd-leak", lambda: post(base_url(svc) + "/leak-fds?n=400"),
                 monit=monit_block("fd-leak", svc,
                                   http_test(svc) + "\nif filedescriptors > 200 then restart"))


def progress_stall(lab: Lab) -> Setup:
    svc = lab.service("progress-stall")
    svc["checks"] = [{"type": "progress", "url": base_url(svc) + "/stats",
                      "path": "$.processed", "window": 2000}]
    return Setup({"progress-stall": svc}, "progress-stall",
                 lambda: post(base_url(svc) + "/stall-progress"), monit=None)


def queue_stall(lab: Lab) -> Setup:
    svc = lab.service("queue-stall")
    svc["checks"] = [{"type": "progress", "url": base_url(svc) + "/stats", "path": "$.queued",
                      "expect": "decrease", "window": 2000}]
    return Setup({"queue-stall": svc}, "queue-stall",
                 lambda: post(base_url(svc) + "/stall-queue"), monit=None)


def missed_checkin(lab: Lab) -> Setup:
    beat = f"{lab.daemon_url}/api/monitoring/heartbeat/missed-checkin"
    svc = lab.service("missed-checkin", "--beat-url", beat, "--beat-every", "0.3")
    svc["checks"] = [{"type": "heartbeat", "period": 1000, "grace": 1000}]
    return Setup({"missed-checkin": svc}, "missed-checkin",
                 lambda: post(base_url(svc) + "/stop-beats"), monit=None)


def dependency_down(lab: Lab) -> Setup:
    db = lab.service("dep-db")
    app = lab.service("dep-app", "--dep-url", base_url(db) + "/health", dependsOn=["dep-db"])
    # SIGSTOP, not SIGKILL: a dead child is seen at once, a frozen one only by the checks, so
    # the dependent fails its own check too and must be held back, not restarted.
    return Setup({"dep-db": db, "dep-app": app}, "dep-db", lambda: kill(db, signal.SIGSTOP),
                 held={"dep-app"},
                 monit=monit_block("dep-db", db, http_test(db)) + monit_block(
                     "dep-app", app, http_test(app) + "\ndepends on dep-db"))


def flapping(lab: Lab) -> Setup:
    """Fails again each time it is repaired, until the breaker opens; then the fault stops
    (as when the bad deploy is rolled back) and the breaker must close by itself."""
    svc = lab.service("flapping", ladder=[{"strategy": "signal", "signal": "HUP",
                                           "attempts": 1}])
    url = base_url(svc)
    return Setup({"flapping": svc}, "flapping", lambda: post(url + "/fail"),
                 undo=lambda: post(url + "/heal"), monit=None)


FAULTS = [
    Fault("crash", "SIGKILL of the service's process", ("PROCESS_EXITED",), RESTART, crash,
          quick=True),
    Fault("crash-loop", "SIGKILL, and the next two starts exit at once", ("PROCESS_EXITED",),
          RESTART, crash_loop, quick=True),
    Fault("hang", "SIGSTOP of the service's process", ("NETWORK_TIMEOUT",), RESTART, hang,
          quick=True),
    Fault("deadlock", "handler blocks forever (alive, accepting, never answering)",
          ("NETWORK_TIMEOUT",), RESTART, deadlock, quick=True),
    Fault("http-500", "/health answers 500 (a reload fixes it)", ("SERVICE_UNAVAILABLE",), "signal",
          http_500, quick=True),
    Fault("slow-answers", "/health answers after 600 ms (degraded above 300 ms)",
          ("degraded",), None, slow_answers, outcome="degrade", quick=True),
    Fault("slow-start", "SIGKILL, and the restart takes 3.5 s to listen (interval 1 s)",
          ("PROCESS_EXITED",), RESTART, slow_start, max_actions=1, quick=True),
    Fault("memory-leak", "RSS grows 60 MiB/s past a 120 MiB limit", ("MEMORY_EXHAUSTED",),
          RESTART, memory_leak, quick=True),
    Fault("fd-leak", "opens 400 files (limit 200)", ("FILE_DESCRIPTORS_EXHAUSTED",), RESTART,
          fd_leak,
          quick=True),
    Fault("progress-stall", "a worker's counter stops (still answers /health)",
          ("WORK_STALLED",), RESTART, progress_stall, quick=True),
    Fault("queue-stall", "a queue stops draining (still answers /health)", ("WORK_STALLED",),
          RESTART, queue_stall),
    Fault("missed-checkin", "a job stops its heartbeat check-ins", ("HEARTBEAT_MISSED",),
          RESTART, missed_checkin, quick=True),
    Fault("dependency-down", "SIGSTOP of a service another one depends on (the dependent "
          "must wait, not be restarted)",
          ("NETWORK_TIMEOUT",), RESTART, dependency_down,
          quick=True),
    Fault("flapping", "/health fails again after every repair until the breaker opens",
          ("SERVICE_UNAVAILABLE",), "signal", flapping, outcome="flap", bound_s=120),
]
