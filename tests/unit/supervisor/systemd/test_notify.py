"""The sd_notify client without a NOTIFY_SOCKET: everything is a no-op."""

from __future__ import annotations

import os

from supervisor.systemd.notify import Notifier


def test_without_notify_socket_everything_is_a_no_op():
    n = Notifier.from_environ({})
    assert not n.enabled
    assert n.ready("x") is False and n.watchdog() is False and n.stopping() is False
    assert n.watchdog_interval_s is None
    # A watchdog meant for another pid is not ours to ping.
    other = Notifier.from_environ({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000",
                                   "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.enabled and other.watchdog_interval_s is None
    other.close()
