"""The HTTP API (aiohttp): routes under /api/monitoring, JSON everywhere, errors included."""

from supervisor.api.app import DAEMON, create_app

__all__ = ["DAEMON", "create_app"]
