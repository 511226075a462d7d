"""Container services in services.json and in labels: what they expand to, and the errors a
user gets for what does not fit (no dockerd needed)."""

from __future__ import annotations

from typing import Any

import pytest

from supervisor.clients.docker import DockerClient
from supervisor.config.loader import parse_config
from supervisor.config.services import ConfigError
from supervisor.config.settings import Settings
from supervisor.containers.discovery import LabelDiscovery, ServiceSlot


def _service(svc: dict[str, Any]) -> Any:
    parsed = parse_config({"errorMonitoring": {"services": {"web": svc}}}, Settings())
    return parsed.error_monitoring.services["web"]


def test_a_container_service_gets_a_container_check_and_a_restart_step():
    svc = _service({"container": "shop-web", "port": 8080, "healthCheckPath": "/health"})
    assert [(c.type, getattr(c, "container", None)) for c in svc.checks] == \
        [("container", "shop-web"), ("http", None)]
    assert [s.strategy for s in svc.ladder] == ["restart_container", "retry_failed"]
    assert svc.ladder[0].container == "shop-web"
    assert svc.restart_steps == [svc.ladder[0]]  # pausable / counted like other restarts


def test_restart_command_still_wins_over_the_container():
    svc = _service({"container": "web", "restart": {"command": ["true"]}})
    assert svc.ladder[0].strategy == "restart_command"


def test_restart_container_step_without_a_container_names_what_it_needs():
    with pytest.raises(ConfigError) as err:
        _service({"port": 1, "ladder": ["restart_container"]})
    assert any("ladder" in p and "'restart_container' does not apply" in p
               for p in err.value.problems), err.value.problems


def test_container_check_limits_are_validated_by_name():
    with pytest.raises(ConfigError) as err:
        _service({"checks": [{"type": "container", "container": "web",
                              "maxMemoryPercent": 150}]})
    assert any("maxMemoryPercent" in p and "100" in p for p in err.value.problems)


def test_bad_docker_host_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "ftp://docker")
    with pytest.raises(ValueError, match="DOCKER_HOST"):
        Settings()


async def _nothing(*_: Any) -> None:
    return None


def _discovery() -> LabelDiscovery:
    slot = ServiceSlot(file_services=dict, recovery_defaults=dict, add=_nothing,
                       remove=_nothing)
    return LabelDiscovery(DockerClient("unix:///nonexistent.sock"), slot, Settings())


def _info(ip: str = "") -> dict[str, Any]:
    return {"NetworkSettings": {"Networks": {"net": {"IPAddress": ip}}}}


def test_labels_become_a_service_reached_at_the_container_address():
    name, svc = _discovery().service_from_labels(
        "shop_web_1", {"soulfra.enable": "true", "soulfra.port": "8080",
                       "soulfra.healthCheckPath": "/health", "soulfra.interval": "5000",
                       "soulfra.critical": "true", "other.label": "x"}, _info("172.18.0.5"))
    assert name == "shop_web_1"
    assert svc.critical is True and svc.interval == 5000
    assert svc.checks[1].url == "http://172.18.0.5:8080/health"
    assert svc.ladder[0].strategy == "restart_container" and svc.ladder[0].container == \
        "shop_web_1"


def test_host_networking_means_the_loopback_and_name_label_names_the_service():
    name, svc = _discovery().service_from_labels(
        "c1", {"soulfra.enable": "true", "soulfra.name": "api", "soulfra.port": "9000",
               "soulfra.healthCheckPath": "/h"}, _info(""))
    assert name == "api" and svc.checks[1].url == "http://127.0.0.1:9000/h"


@pytest.mark.parametrize(("labels", "expected"), [
    ({"soulfra.port": "99999"}, "label soulfra.port: must be <= 65535"),
    ({"soulfra.port": "eighty"}, "label soulfra.port: "),
    ({"soulfra.interval": "-5"}, "label soulfra.interval: must be > 0"),
    ({"soulfra.colour": "blue"}, "label soulfra.colour: unknown field"),
    ({"soulfra.healthCheckPath": "/health"}, "healthCheckPath needs baseUrl or port"),
    ({"soulfra.checks": "[]"}, "label soulfra.checks: cannot be set by a label"),
    ({"soulfra.name": "no spaces"}, "label soulfra.name: service name 'no spaces'"),
])
def test_labels_that_do_not_validate_are_reported_naming_the_label(labels, expected):
    problems = _discovery().service_from_labels("c1", {"soulfra.enable": "true", **labels},
                                                _info())
    assert isinstance(problems, list)
    assert any(expected in p for p in problems), problems
