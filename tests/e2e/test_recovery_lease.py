"""A shared service leased by another host is not recovered by this daemon (the older
SOULFRA_LOCK_REDIS_URL: the cluster's lease without the rest of cluster mode)."""

from __future__ import annotations

import pytest
import redis

from supervisor.cluster import keys
from tests.support.helpers import demo_service_config, free_port, services_file, wait_for


@pytest.mark.timeout(60)
def test_a_service_leased_by_another_host_is_not_recovered_here(daemon_factory, tmp_path,
                                                                 redis_server):
    web = demo_service_config(free_port(), tmp_path / "web.pid", shared=True)
    web["restart"]["autoStart"] = False  # a shared service is started under the lease
    d = daemon_factory(services_file({"web": web}),
                       env={"SOULFRA_LOCK_REDIS_URL": redis_server.url,
                            "SOULFRA_NODE_NAME": "a"})
    other = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        other.set(keys.lease_key("web"), keys.lease_value("b", 7), px=20000)
        status, body = d.post("/api/monitoring/recover",
                              {"action": "restart_service", "target": "web"})
        assert status == 202 and body["status"] == "skipped"
        assert body["message"].startswith("waiting for the cluster lease: node b (token 7)")
        other.delete(keys.lease_key("web"))
        status, body = d.post("/api/monitoring/recover",
                              {"action": "restart_service", "target": "web"})
        assert status == 202 and body["status"] in ("queued", "running")
        done = wait_for(lambda: (r := d.get(body["location"])[1])["status"] == "succeeded"
                        and r, timeout=20, what="recovery done")
        assert done["attempts"][0]["ok"] and done["attempts"][0]["leaseFence"] == 1
        assert other.get(keys.lease_key("web")) is None, "released after the recovery"
        assert other.get(keys.fence_key("web")) == "1"
    finally:
        other.close()
