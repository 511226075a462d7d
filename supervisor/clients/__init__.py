"""Connections shared by checks, strategies and the core: HTTP, Redis, MQTT."""
