"""A listening NOTIFY_SOCKET for the systemd tests (what systemd would receive from sd_notify)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable


class NotifySocket:
    """A listening NOTIFY_SOCKET; a thread records every datagram with its arrival time."""

    def __init__(self, path: str) -> None:
        self.address = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + path[1:] if path.startswith("@") else path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, list[str]]] = []
        self.on_message: list[Callable[[list[str]], None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            lines = data.decode().split("\n")
            self.messages.append((time.monotonic(), lines))
            for fn in self.on_message:
                fn(lines)

    def lines(self) -> list[str]:
        return [line for _, lines in self.messages for line in lines]

    def times(self, line: str) -> list[float]:
        return [at for at, lines in self.messages if line in lines]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
