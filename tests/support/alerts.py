"""Alerts and channels for the channel and delivery tests: a channel built from its config the way
the daemon does, and an alert far over every platform's limits."""

from __future__ import annotations

import socket
from typing import Any

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Channel
from supervisor.alerts.message import Alert
from supervisor.clients.http import HttpClient


def channel(kind: str, url: str, http: HttpClient, **extra: Any) -> Channel:
    cls = registry.get(kind)
    return cls(cls.config_model.model_validate({"type": kind, "url": url, **extra}), http)


def big_alert(i: int = 0, kind: str = "firing", incident: str = "inc_big") -> Alert:
    return Alert(kind=kind, service=f"payments-api-{i}-" + "x" * 300, severity="critical",
                 summary="automatic recovery did not fix it " + "y" * 500,
                 correlation_id=incident, state="recovering", category="SERVICE_UNAVAILABLE",
                 error_type="connection_refused", check="health",
                 detail="GET /health refused <&> " + "z" * 9000,
                 recovery=[{"strategy": "restart_command", "attempt": n, "ok": False,
                            "message": "process exited during startup " + "w" * 400}
                           for n in range(30)],
                 outcome="recovery failed after 30 attempt(s)", downtime_ms=93_000,
                 affected=[f"dependent-{n}" for n in range(60)],
                 link="https://ops.example.com/?service=payments")


def listen(socks: dict[str, socket.socket], name: str, port: int | None = None) -> int:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port or 0))
    s.listen(16)
    socks[name] = s
    return int(s.getsockname()[1])


def tcp_service(port: int, **extra: Any) -> dict[str, Any]:
    return {"checks": [{"type": "tcp", "host": "127.0.0.1", "port": port}], "interval": 300,
            "timeoutThreshold": 500, "errorThreshold": 1, "autoRestart": False, **extra}


def alerts_of(received: list[Any], kind: str = "webhook") -> list[dict[str, Any]]:
    """Every alert inside the received bodies (webhook format), in arrival order."""
    out = []
    for r in received:
        if kind == "webhook":
            out += r.json["alerts"]
    return out
