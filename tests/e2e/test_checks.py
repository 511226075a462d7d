"""New check types through the real daemon: a redis outage becomes a stored CONNECTION_LOST
error within interval × errorThreshold + timeout, and the service heals by itself."""

from __future__ import annotations

import time

import pytest
import redis

from tests.support.faults import report
from tests.support.helpers import services_file, wait_for


@pytest.mark.timeout(90)
def test_redis_outage_and_backlog_through_the_daemon(daemon_factory, redis_server):
    svc = {"interval": 500, "timeoutThreshold": 500, "errorThreshold": 2, "checks": [
        {"type": "redis", "url": redis_server.url, "keys": [{"key": "jobs", "maxLength": 5}]}]}
    d = daemon_factory(services_file({"cache": svc}, strategies=["retry"]),
                       env={"AUTO_RECOVERY_ENABLED": "false"})
    wait_for(lambda: d.state("cache") == "healthy", timeout=10, what="cache healthy")

    redis_server.kill()
    killed = time.time()
    wait_for(lambda: d.state("cache") == "failing", timeout=10, what="cache failing")
    took = d.service("cache")["since"] - killed
    report("redis killed -> daemon state failing (interval 0.5 s x errorThreshold 2)", took,
           "connection_lost")
    assert took < 0.5 * 2 + 0.5 + 1.0  # interval × threshold + timeout, and scheduling slack
    errors = wait_for(lambda: [e for e in d.errors() if e["service"] == "cache"], timeout=10,
                      what="a stored error")
    assert errors[0]["category"] == "CONNECTION_LOST" and errors[0]["type"] == "connection_lost"

    redis_server.start()
    wait_for(lambda: d.state("cache") == "healthy", timeout=10,
             what="cache healthy again: the check reconnected by itself")

    admin = redis.Redis.from_url(redis_server.url)
    try:
        admin.rpush("jobs", *range(10))
        wait_for(lambda: d.state("cache") == "failing", timeout=10, what="backlog")
        st = d.service("cache")
        assert st["lastFailure"]["kind"] == "resource_pressure"
        assert "jobs has 10" in st["lastFailure"]["message"]
        backlog = wait_for(lambda: [e for e in d.errors() if e["type"] == "queue_backlog"],
                           timeout=10, what="a stored backlog error")
        assert backlog[0]["category"] == "WORK_STALLED"
    finally:
        admin.close()
