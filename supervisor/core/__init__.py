"""The core of a failure's path: events, scheduling, state, incidents, the error taxonomy."""
