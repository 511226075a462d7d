"""`soulfra-supervisor status --cluster`: the cluster view of a running daemon as two tables,
the nodes (alive, last seen, version, services by state) and the shared services (state on
each node, lease holder and fencing token). Exit 0 when every node is alive, 1 when one is
not, 3 when the daemon is unreachable (like `status`)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from supervisor.cli.render import ago, escape, state_markup

if TYPE_CHECKING:
    from rich.console import Console


SHOW_NAMES_UP_TO = 6


def services_line(services: dict[str, str]) -> str:
    """'db healthy, web failing' for a few services, else '20 healthy, 1 failing', with the
    states coloured as in `status`."""
    if len(services) <= SHOW_NAMES_UP_TO:
        return ", ".join(f"{escape(n)} {state_markup(s)}"
                         for n, s in sorted(services.items())) or "-"
    counts = Counter(services.values())
    return ", ".join(f"{n} {state_markup(s)}" for s, n in sorted(counts.items())) or "-"


def cluster_table(status: int, body: Any, console: Console) -> int:
    """Print the daemon's answer to GET /api/monitoring/cluster; the exit code."""
    if status != 200 or not isinstance(body, dict):
        console.print(f"[red]the daemon answered {status}: {escape(str(body))[:300]}[/]")
        return 2
    from rich.table import Table

    nodes: list[dict[str, Any]] = body.get("nodes", [])
    mode = "standalone (no SOULFRA_CLUSTER_REDIS_URL)" if body.get("standalone") else \
        f"cluster, TTL {body.get('ttlSeconds')} s"
    if body.get("redisReachable") is False:
        mode += " [bold red]Redis unreachable: the last known view[/]"
    console.print(f"node [bold]{escape(str(body.get('node')))}[/]: {mode}")
    table = Table(header_style="bold", expand=False)
    for column in ("NODE", "ALIVE", "LAST SEEN", "VERSION", "API", "SERVICES"):
        table.add_column(column, no_wrap=column != "SERVICES")
    for n in nodes:
        seen = n.get("lastSeen")
        table.add_row(escape(n["name"]), "[green]alive[/]" if n["alive"] else
                      "[bold red]lapsed[/]", ago(seen / 1000) if seen else "",
                      escape(n.get("version") or ""), escape(n.get("apiUrl") or ""),
                      services_line(n.get("services") or {}))
    console.print(table)
    shared: list[dict[str, Any]] = body.get("sharedServices", [])
    if shared:
        st = Table(header_style="bold", expand=False)
        for column in ("SHARED SERVICE", "STATES", "LEASE HOLDER", "FENCING TOKEN", "GAVE UP"):
            st.add_column(column)
        for s in shared:
            states = ", ".join(f"{escape(node)}: {state_markup(state)}"
                               for node, state in sorted(s["states"].items()))
            token = s.get("fencingToken")
            gave_up = s.get("gaveUp")
            st.add_row(escape(s["name"]), states, escape(s.get("leaseHolder") or "-"),
                       "-" if token is None else str(token),
                       f"[bold red]node {escape(str(gave_up.get('node')))}[/]: "
                       f"{escape(str(gave_up.get('reason')))}" if gave_up else "-")
        console.print(st)
    return 0 if all(n["alive"] for n in nodes) else 1
