"""The HTTP API (aiohttp): routes under /api/monitoring, JSON everywhere, errors included.

`app.create_app` builds it; `routes/` holds one module per resource; `context` is what they
share."""
