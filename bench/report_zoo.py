"""The fault-zoo section of docs/benchmarks.md (bench/run zoo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report_page import run_header

SCENARIO = "zoo"


def markdown(doc: dict[str, Any], results_path: Path, docs_path: Path) -> str:
    lines = ["## The fault zoo, side by side with Monit (bench/run zoo)", "",
             *run_header(doc, results_path, docs_path), ""]
    return "\n".join(lines)
