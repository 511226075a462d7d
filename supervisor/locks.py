"""Who may recover a service right now. Local by default; a Redis lease can stand behind it
when several hosts share a service (same two calls)."""

from __future__ import annotations

from typing import Protocol


class RecoveryLock(Protocol):
    async def acquire(self, service: str, holder: str) -> bool:
        """Take the lock without waiting; False when someone else holds it."""

    async def release(self, service: str, holder: str) -> None: ...


class LocalLock:
    def __init__(self) -> None:
        self._held: dict[str, str] = {}

    async def acquire(self, service: str, holder: str) -> bool:
        if service in self._held:
            return False
        self._held[service] = holder
        return True

    async def release(self, service: str, holder: str) -> None:
        if self._held.get(service) == holder:
            del self._held[service]
