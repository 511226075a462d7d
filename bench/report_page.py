"""The page docs/benchmarks.md is made of: generated sections between markers, and what
people wrote around them; and the header every generated section starts with."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def run_header(doc: dict[str, Any], results_path: Path, docs_path: Path) -> list[str]:
    """When, where, under which load and with which command a run was made."""
    m = doc["machine"]
    loads = [x[1] for x in m["load_1min"]]
    rel = os.path.relpath(results_path, docs_path.parent)
    return [
        f"Run {doc['started']} – {doc.get('finished', '?')} (UTC) on a shared machine: "
        f"{m['cpus']} cores, {m['memory_gb']} GB, {m['platform']}, Python {m['python']}; "
        f"other engineers' test suites ran at the same time. 1-minute load average "
        f"(/proc/loadavg): mean **{m.get('load_1min_mean', '?')}** over the run (from "
        f"{min(loads):.2f} to {max(loads):.2f}; every value is in the JSON).",
        "",
        f"Command: `{doc['command']}`  ",
        f"Raw results: [{os.path.basename(results_path)}]({rel})",
    ]


def _markers(name: str) -> tuple[str, str]:
    tag = f"bench/run {name}" if name else "bench/run"
    return (f"<!-- {tag}: begin. Generated from the results JSON named below; edit "
            f"bench/report*.py or bench/findings.md, not this section. -->"
            if name else BEGIN, f"<!-- {tag}: end -->")


BEGIN = ("<!-- bench/run: begin. Generated from the results JSON named below; edit "
         "bench/report.py or bench/findings.md, not this section. -->")
END = "<!-- bench/run: end -->"


def splice(page: str, section: str, name: str = "") -> str:
    """Put the generated section into the page, keeping what others wrote around it. `name`
    tells the sections apart (the side-by-side one has none); a new named section goes at the
    end of the page."""
    begin, end = _markers(name)
    block = f"{begin}\n\n{section.strip()}\n\n{end}\n"
    if begin in page and end in page:
        head, rest = page.split(begin, 1)
        return head + block + "\n" + rest.split(end, 1)[1].lstrip("\n")
    if name:
        return (page.rstrip("\n") + "\n\n" if page.strip() else "# Benchmarks\n\n") + block
    if not page.strip():
        return "# Benchmarks\n\n" + block
    lines = page.splitlines(keepends=True)
    # before the first second-level heading (after the page's title and introduction)
    at = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    return "".join(lines[:at]) + block + "\n" + "".join(lines[at:])
