"""The store's schema, as the steps that made it: versioned with `PRAGMA user_version`.

MIGRATIONS only ever grows (append a step; never edit one that shipped), and a daemon opening
an older file applies the missing steps in order, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS: list[str] = [
    # 1: errors, recoveries, state transitions
    """
    CREATE TABLE errors (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        type TEXT NOT NULL,
        category TEXT NOT NULL,
        level TEXT NOT NULL,
        severity TEXT NOT NULL,
        service TEXT,
        check_name TEXT,
        message TEXT NOT NULL,
        recovered INTEGER NOT NULL DEFAULT 0,
        recovery_failed INTEGER NOT NULL DEFAULT 0,
        recovery_time_ms INTEGER,
        status TEXT NOT NULL DEFAULT 'pending',
        correlation_id TEXT,
        context TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX errors_created ON errors(created_at);
    CREATE INDEX errors_service ON errors(service, created_at);
    CREATE INDEX errors_correlation ON errors(correlation_id);
    CREATE TABLE recoveries (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        action TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        force INTEGER NOT NULL DEFAULT 0,
        dry_run INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        finished_at REAL,
        duration_ms INTEGER,
        correlation_id TEXT,
        message TEXT NOT NULL DEFAULT '',
        attempts TEXT NOT NULL DEFAULT '[]',
        plan TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX recoveries_service ON recoveries(service, created_at);
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        service TEXT NOT NULL,
        previous TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        correlation_id TEXT
    );
    CREATE INDEX transitions_service ON transitions(service, at);
    CREATE INDEX transitions_at ON transitions(at);
    """,
    # 2: fingerprints and their groups, hourly summaries (kept longer than the detail rows)
    """
    ALTER TABLE errors ADD COLUMN fingerprint TEXT;
    CREATE INDEX errors_fingerprint ON errors(fingerprint, created_at);
    CREATE INDEX errors_category ON errors(category, created_at);
    CREATE TABLE error_groups (
        fingerprint TEXT PRIMARY KEY,
        service TEXT,
        category TEXT NOT NULL,
        type TEXT NOT NULL,
        level TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        last_error_id TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        status_note TEXT,
        status_at REAL,
        regressed INTEGER NOT NULL DEFAULT 0,
        regressed_at REAL,
        regressions INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX error_groups_last_seen ON error_groups(last_seen);
    CREATE TABLE error_hourly (
        hour REAL NOT NULL,
        service TEXT NOT NULL,
        category TEXT NOT NULL,
        severity TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (hour, service, category, severity)
    );
    """,
    # 3: recovery engine state that survives a restart (breaker, backoff level, pause), and
    # when the failure a recovery answers was detected
    """
    CREATE TABLE recovery_state (
        service TEXT PRIMARY KEY,
        level INTEGER NOT NULL DEFAULT 0,
        recoveries TEXT NOT NULL DEFAULT '[]',
        breaker_open INTEGER NOT NULL DEFAULT 0,
        opened_at REAL,
        reason TEXT NOT NULL DEFAULT '',
        healthy_since REAL,
        paused TEXT,
        updated_at REAL NOT NULL
    );
    ALTER TABLE recoveries ADD COLUMN detected_at REAL;
    """,
    # 4: alerts (every alert made, sent or not), the outbox of deliveries not yet accepted,
    # the delivery log, and silences (supervisor/alerts/)
    """
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        kind TEXT NOT NULL,
        service TEXT NOT NULL,
        severity TEXT NOT NULL,
        correlation_id TEXT,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        channels TEXT NOT NULL DEFAULT '[]',
        alert TEXT NOT NULL
    );
    CREATE INDEX alerts_created ON alerts(created_at);
    CREATE INDEX alerts_correlation ON alerts(correlation_id);
    CREATE TABLE alert_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at REAL NOT NULL,
        next_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX alert_outbox_channel ON alert_outbox(channel, id);
    CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        alert_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        detail TEXT NOT NULL DEFAULT '',
        latency_ms REAL
    );
    CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id);
    CREATE INDEX alert_deliveries_at ON alert_deliveries(at);
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        starts_at REAL NOT NULL,
        ends_at REAL NOT NULL,
        matchers TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        comment TEXT NOT NULL DEFAULT '',
        deleted_at REAL
    );
    """,
    # 5: errors the services report themselves (supervisor/ingest/): where an error came
    # from, its release and the group's counts per release; the SDK projects and their keys
    """
    ALTER TABLE errors ADD COLUMN source TEXT NOT NULL DEFAULT 'check';
    ALTER TABLE errors ADD COLUMN release TEXT;
    CREATE INDEX errors_source ON errors(source, created_at);
    CREATE TABLE error_group_releases (
        fingerprint TEXT NOT NULL,
        release TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        PRIMARY KEY (fingerprint, release)
    );
    CREATE TABLE ingest_projects (
        service TEXT PRIMARY KEY,
        project_id INTEGER NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE ingest_keys (
        key TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    """,
    # 6: acknowledgements, their signed links, escalations (supervisor/alerts/acks.py,
    # escalation.py); outbox rows held by a channel's quiet hours
    """
    CREATE TABLE incident_acks (
        incident_id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        at REAL NOT NULL,
        by TEXT NOT NULL DEFAULT '',
        via TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE ack_links_used (
        nonce TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        used_at REAL NOT NULL
    );
    CREATE TABLE alert_keys (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ALTER TABLE alert_outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE escalations (
        incident_id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        severity TEXT NOT NULL,
        policy TEXT NOT NULL,
        started_at REAL NOT NULL,
        next_step INTEGER NOT NULL,
        reached TEXT NOT NULL,
        alert TEXT NOT NULL,
        stopped TEXT,
        closed_at REAL
    );
    """,
    # 7: check rollups per service and minute/hour (supervisor/store/series.py: latency and
    # failure charts), incidents found by correlation id, human-written incident updates
    """
    CREATE TABLE check_minutes (
        service TEXT NOT NULL,
        start REAL NOT NULL,
        checks INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        degraded INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        latency_min REAL,
        latency_max REAL,
        PRIMARY KEY (service, start)
    ) WITHOUT ROWID;
    CREATE INDEX check_minutes_start ON check_minutes(start);
    CREATE TABLE check_hours (
        service TEXT NOT NULL,
        start REAL NOT NULL,
        checks INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        degraded INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        latency_min REAL,
        latency_max REAL,
        PRIMARY KEY (service, start)
    ) WITHOUT ROWID;
    CREATE INDEX check_hours_start ON check_hours(start);
    CREATE INDEX transitions_correlation ON transitions(correlation_id);
    CREATE INDEX recoveries_correlation ON recoveries(correlation_id);
    CREATE TABLE incident_updates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        correlation_id TEXT NOT NULL,
        at REAL NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX incident_updates_correlation ON incident_updates(correlation_id, at);
    CREATE INDEX incident_updates_at ON incident_updates(at);
    """,
    # 8: rows waiting to be shipped to the shared store (supervisor/store/shared/capture.py):
    # one entry per changed row, filled by triggers only while SOULFRA_STORE_URL is set
    """
    CREATE TABLE replication_queue (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tbl TEXT NOT NULL,
        key TEXT NOT NULL,
        UNIQUE (tbl, key)
    );
    CREATE TABLE replication_state (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
]


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file at `path` up to the newest schema; refuse one newer than this daemon."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(f"{path} has schema {version}, newer than this daemon "
                           f"({len(MIGRATIONS)}); upgrade soulfra-supervisor")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
