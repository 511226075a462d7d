"""The selftest's table: one line per fault, and a summary line. Plain text (it goes to a
terminal, a CI log or a bug report alike); --json prints the rows instead."""

from __future__ import annotations

from supervisor.selftest.measure import Row

COLUMNS = (("fault", 16), ("detected as", 42), ("healed by", 16), ("detect", 7),
           ("healthy", 8), ("result", 7))


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def line(row: Row) -> str:
    healed = row.healed_by or ("(none)" if row.verdict != "skipped" else "")
    cells = (row.fault, row.detected_as or "-", healed, _secs(row.detect_s),
             _secs(row.healthy_s), row.verdict.upper())
    text = "  ".join(str(c)[:w].ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True))
    return text.rstrip() + (f"\n    {row.why}" if row.why else "")


def render(rows: list[Row]) -> str:
    head = "  ".join(name.ljust(w) for name, w in COLUMNS).rstrip()
    body = [line(r) for r in rows]
    ran = [r for r in rows if r.verdict != "skipped"]
    passed = sum(r.verdict == "pass" for r in ran)
    skipped = len(rows) - len(ran)
    harmful = sum(len(r.harmful) for r in rows)
    summary = (f"{passed}/{len(ran)} passed" + (f", {skipped} skipped" if skipped else "")
               + f"; harmful actions: {harmful}")
    return "\n".join([head, "-" * len(head), *body, "", summary])


def all_passed(rows: list[Row]) -> bool:
    ran = [r for r in rows if r.verdict != "skipped"]
    return bool(ran) and all(r.verdict == "pass" for r in ran)
