"""Several hosts, one watchdog: what the nodes of a cluster share through Redis and (optionally)
PostgreSQL, never a protocol of our own (docs/cluster.md).

- membership: a key per node with a TTL, renewed from the event loop while the scheduler makes
  progress; join/leave/lapse events on the bus; a lapsed node is an error and one alert.
- view: every node and shared service as one node sees them (GET /api/monitoring/cluster).
- incidents: one alert per incident across nodes (an incident key per service and fingerprint).
- multihost: what a daemon runs for several hosts (shared store, incident keys, membership, the
  MQTT state publisher) as one object; wiring: the membership node and the MQTT publisher.
- Recovery leases with fencing tokens (and the gave-up mark of a shared service) live beside the
  local lock, in supervisor/recovery/locks.py.
- The shared PostgreSQL store lives in supervisor/store/ beside the SQLite one.
"""
