"""Pid files: the first word of the file is the pid."""

from __future__ import annotations

from pathlib import Path


def read_pid_file(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
        return int(text.split()[0]) if text else None
    except (OSError, ValueError):
        return None
