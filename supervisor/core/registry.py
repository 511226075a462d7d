"""Name → class registries for pluggable parts, filled from a package and from entry points.

Both health checks and recovery strategies use this: a `type`/`strategy` name in services.json
maps to a class. Third parties add names through the entry-point groups
`soulfra.health_checks` and `soulfra.recovery_strategies` without touching this repository.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from types import ModuleType
from typing import Generic, TypeVar

from loguru import logger

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str, entry_point_group: str) -> None:
        self.kind = kind
        self._package = package
        self._group = entry_point_group
        self._items: dict[str, type[T]] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorate(cls: type[T]) -> type[T]:
            existing = self._items.get(name)
            if existing is not None and existing is not cls:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = cls
            return cls

        return decorate

    def load(self) -> None:
        """Import every module of the package and every entry point once."""
        if self._loaded:
            return
        self._loaded = True
        package: ModuleType = importlib.import_module(self._package)
        # subpackages too (alert channels live in supervisor/alerts/channels/)
        for info in pkgutil.walk_packages(package.__path__, f"{self._package}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                importlib.import_module(info.name)
        for ep in entry_points(group=self._group):
            try:
                cls = ep.load()
            except Exception as exc:  # a broken plugin must not stop the daemon
                logger.error("cannot load {} plugin {!r}: {}", self.kind, ep.name, exc)
                continue
            self._items.setdefault(ep.name, cls)

    def get(self, name: str) -> type[T]:
        self.load()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def items(self) -> dict[str, type[T]]:
        self.load()
        return dict(self._items)
