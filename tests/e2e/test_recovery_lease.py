"""A service leased by another host is not recovered by this daemon."""

from __future__ import annotations

import redis

from tests.support.helpers import demo_service_config, free_port, services_file, wait_for


def test_a_service_leased_by_another_host_is_not_recovered_here(daemon_factory, tmp_path,
                                                                 redis_server):
    port = free_port()
    d = daemon_factory(services_file({"web": demo_service_config(port, tmp_path / "web.pid")}),
                       env={"SOULFRA_LOCK_REDIS_URL": redis_server.url})
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    other = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        other.set("soulfra:recovery:web", "host-b:RC_00000000", px=20000)
        status, body = d.post("/api/monitoring/recover",
                              {"action": "restart_service", "target": "web"})
        assert status == 202 and body["status"] == "skipped"
        assert "another host" in body["message"]
        other.delete("soulfra:recovery:web")
        status, body = d.post("/api/monitoring/recover",
                              {"action": "restart_service", "target": "web"})
        assert status == 202 and body["status"] in ("queued", "running")
        done = wait_for(lambda: (r := d.get(body["location"])[1])["status"] == "succeeded"
                        and r, timeout=20, what="recovery done")
        assert done["attempts"][0]["ok"]
        assert other.get("soulfra:recovery:web") is None, "released after the recovery"
    finally:
        other.close()
