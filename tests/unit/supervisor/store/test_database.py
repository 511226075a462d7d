"""The store: an error id collision loses nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from supervisor.core.incidents import error_row
from supervisor.core.taxonomy import TIMEOUT, Classification
from supervisor.store.database import Store


def _row(at: float, service: str = "api", message: str = "no answer within 2000 ms",
         c: Classification = TIMEOUT) -> dict[str, Any]:
    return error_row(c, service, message, at=at, env={"host": "test"})


async def test_an_id_collision_loses_nothing(tmp_path: Path) -> None:
    """SE_ + 8 hex (the SPEC's shape) collides in a large store; the row gets a fresh id."""
    store = Store(tmp_path / "s.db")
    await store.open()
    try:
        a, b = _row(time.time()), _row(time.time())
        b["id"] = a["id"]
        await store.insert_error(a)
        await store.insert_error(b)
        assert b["id"] != a["id"] and len(b["id"]) == 11
        assert {r["id"] for r in await store.list_errors(limit=10)} == {a["id"], b["id"]}
        assert (await store.get_group(a["fingerprint"]))["count"] == 2
    finally:
        await store.close()
