"""Push signals: heartbeats (HTTP and MQTT), job start/finish, and broker last-wills.

Services report these themselves, so a missing or final signal is known the moment it happens:
the board arms a timer at each service's deadline instead of waiting for the next poll.
"""
