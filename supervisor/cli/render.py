"""How the CLI shows things in a terminal: states in colour, times as "3m ago", text escaped
for rich's markup (rich is imported when a command prints, not when the CLI starts)."""

from __future__ import annotations

import time

STATE_STYLE = {"healthy": "green", "degraded": "yellow", "failing": "bold red",
               "recovering": "blue", "gave_up": "bold red", "maintenance": "magenta",
               "unknown": "dim"}


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def ago(epoch_s: float | None) -> str:
    if not epoch_s:
        return ""
    d = max(0.0, time.time() - epoch_s)
    if d < 60:
        return f"{d:.0f}s ago"
    if d < 3600:
        return f"{d / 60:.0f}m ago"
    if d < 86400:
        return f"{d / 3600:.1f}h ago"
    return f"{d / 86400:.1f}d ago"


def state_markup(text: str) -> str:
    return f"[{STATE_STYLE.get(text, '')}]{escape(text)}[/]"
