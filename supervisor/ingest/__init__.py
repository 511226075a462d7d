"""Errors reported by the services themselves: the Sentry SDK protocol and plain JSON reports.

The path of a report: `limits` (read and decompress the body within bounds) → `envelope`
(split an envelope into items) → `auth` (which service's key) → `budget` (per-service rate
limit) → `scrub` (secrets out) → `normalise` (classify, group, build the error row) →
`pipeline` (sampling, store, event bus, error rates for the `errors` health check).
"""
