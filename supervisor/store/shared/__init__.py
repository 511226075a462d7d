"""The optional shared store (SOULFRA_STORE_URL, PostgreSQL): every node's history in one
database, so that any node answers for the cluster.

The node's SQLite file stays its own durable store: it keeps working while PostgreSQL is down.
SQLite triggers note each row that changed (capture.py), the replicator ships those rows to
PostgreSQL (replicator.py), whose schema migrates forward like SQLite's (schema.py), and the
API reads the cluster's errors from there (shared.py).
"""
