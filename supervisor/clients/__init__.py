"""Connections shared by checks, strategies and the core: HTTP (aiohttp and the lean
probe), Redis, MQTT."""
