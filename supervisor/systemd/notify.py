"""sd_notify: tells systemd we are ready, reloading, stopping or still alive.

The protocol is one datagram of `KEY=value` lines to the AF_UNIX socket named by
NOTIFY_SOCKET. Without that variable (not run by systemd with Type=notify) every call is a
no-op, so the daemon never has to ask whether it runs under systemd.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Mapping, MutableMapping

from loguru import logger

from supervisor.core.state import ServiceState, State

# What systemd hands to the main process only; children we start must not inherit them, or a
# child that speaks sd_notify could report on our behalf.
NOTIFY_VARS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None
        self._last_status = ""
        if address:
            # A leading '@' names a socket in the abstract namespace (systemd's own notation).
            self._target = "\0" + address[1:] if address.startswith("@") else address
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None,
                     unset: bool = True) -> Notifier:
        """Read (and by default remove) systemd's variables, as sd_notify(unset=1) does."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        watchdog = _watchdog_usec(env)
        if unset:
            for name in NOTIFY_VARS:
                env.pop(name, None)
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to ping: half the watchdog timeout, as sd_watchdog_enabled(3) advises."""
        if not self.enabled or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2 / 1_000_000

    def send(self, *lines: str) -> bool:
        if self._sock is None or not lines:
            return False
        try:
            self._sock.sendto("\n".join(lines).encode(), self._target)
            return True
        except OSError as exc:  # systemd gone or socket full: never fatal for the daemon
            logger.debug("sd_notify to {} failed: {}", self.address, exc)
            return False

    def ready(self, status: str | None = None) -> bool:
        if status:
            self._last_status = status
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets systemd (Type=notify-reload, v253+) match this to its request.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self, status: str = "stopping") -> bool:
        return self.send("STOPPING=1", f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """Send STATUS= when it changed (it shows in `systemctl status`)."""
        if text == self._last_status:
            return False
        self._last_status = text
        return self.send(f"STATUS={text}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):  # meant for another process
        return None
    return usec if usec > 0 else None


def status_line(states: Iterable[ServiceState], extra: str = "") -> str:
    """One line for `systemctl status`: how many services are in which state."""
    counts: dict[str, int] = {}
    total = 0
    for st in states:
        total += 1
        counts[str(st.state)] = counts.get(str(st.state), 0) + 1
    order = [s.value for s in (State.HEALTHY, State.DEGRADED, State.FAILING, State.RECOVERING,
                               State.GAVE_UP, State.MAINTENANCE, State.UNKNOWN)]
    parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in order if counts.get(s)]
    line = f"{total} service{'s' if total != 1 else ''}"
    if parts:
        line += ": " + ", ".join(parts)
    return f"{line}; {extra}" if extra else line
