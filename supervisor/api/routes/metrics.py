"""GET /metrics: Prometheus text format, from the daemon's own registry (supervisor/metrics.py).

Rendered in a worker thread: with a thousand services a scrape takes a few hundred ms of CPU
(bench/metrics_scrape.py), which must not stall the checks on the event loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from loguru import logger
from prometheus_client.exposition import choose_encoder

from supervisor.api.context import DAEMON

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    # Prometheus asks for OpenMetrics or text in Accept; the library picks the encoder.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    daemon = request.app[DAEMON]
    try:  # deliveries report the depth as they settle; a scrape reads it fresh as well
        daemon.metrics.alert_outbox_depth.set(await daemon.alerts.outbox.total())
    except Exception as exc:  # a store that cannot answer must not break the scrape
        logger.warning("cannot read the alert outbox depth for /metrics: {}", exc)
    body = await asyncio.to_thread(encoder, daemon.metrics.registry)
    response = web.Response(body=body, headers={"Content-Type": content_type})
    response.enable_compression()
    return response
