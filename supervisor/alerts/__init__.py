"""Alerts: Slack, Discord and plain webhooks, fed by the event bus through a durable outbox.

The path of an alert: events → lifecycle.Alerter (incidents, dedup, grouping) →
dispatch.Dispatcher (silences, storm control, routing) → outbox (SQLite) →
delivery.Deliverer (one per channel: pacing, retries) → a module of `channels/` (its
`registry` maps a channel `type` to its class).
"""
