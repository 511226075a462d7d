"""The durable store: one SQLite file (connection.py), its schema (migrations.py), and one
module per table family, composed here into the `Store` the daemon holds."""

from __future__ import annotations

from typing import Any

from supervisor.store.error_groups import ErrorGroupTables
from supervisor.store.recoveries import RecoveryTables
from supervisor.store.retention import Retention
from supervisor.store.series import write_rollup
from supervisor.store.transitions import TransitionTables


class Store(ErrorGroupTables, RecoveryTables, TransitionTables, Retention):
    def _write(self, kind: str, payload: Any) -> None:
        if kind == "error":
            self._write_error(payload)
        elif kind == "error_seen":
            self._write_error_seen(payload)
        elif kind == "error_update":
            self._write_error_update(payload)
        elif kind == "transition":
            self._write_transition(payload)
        elif kind == "recovery":
            self._write_recovery(payload)
        elif kind == "recovery_update":
            self._write_recovery_update(payload)
        elif kind == "recovery_state":
            self._write_recovery_state(payload)
        elif kind == "check_rollup":  # supervisor/store/series.py
            write_rollup(self.conn, payload)
        else:
            super()._write(kind, payload)
