"""services.json: validation names the field, the daemon refuses a broken file, the schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from supervisor.config.loader import parse_config
from supervisor.config.schema import json_schema
from supervisor.config.services import ConfigError
from supervisor.config.settings import Settings
from tests.support.helpers import ROOT, free_port


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, env=env)


def _broken(tmp_path: Path) -> Path:
    cfg = json.loads((ROOT / "services.json").read_text())
    svc = cfg["errorMonitoring"]["services"]["demo-service"]
    svc["timeoutThreshold"] = 0
    svc["errorThreshold"] = "three"
    cfg["errorMonitoring"]["services"]["chat-analyzer"] = {"healthCheckPath": "/health",
                                                           "timeoutThreshold": -5}
    path = tmp_path / "services.json"
    path.write_text(json.dumps(cfg))
    return path


def test_validate_lists_every_problem_with_its_path(tmp_path):
    out = _cli("validate", str(_broken(tmp_path)))
    assert out.returncode == 1
    err = out.stderr
    assert "errorMonitoring.services.demo-service.timeoutThreshold: must be > 0" in err
    assert "errorMonitoring.services.demo-service.errorThreshold:" in err
    assert "errorMonitoring.services.chat-analyzer.timeoutThreshold: must be > 0" in err


def test_daemon_refuses_to_start_with_the_same_message(tmp_path):
    out = _cli("run", "--config", str(_broken(tmp_path)), "--port", str(free_port()),
               "--data-dir", str(tmp_path / "data"))
    assert out.returncode == 1
    assert "refusing to start" in out.stderr
    assert "errorMonitoring.services.demo-service.timeoutThreshold: must be > 0" in out.stderr


def test_json_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "services.json"
    path.write_text('{"errorMonitoring": {"services": {,}}}')
    out = _cli("validate", str(path))
    assert out.returncode == 1 and "line 1 column" in out.stderr


def test_shipped_config_is_valid_and_matches_the_published_schema():
    assert _cli("validate", str(ROOT / "services.json")).returncode == 0
    printed = json.loads(_cli("schema").stdout)
    committed = json.loads((ROOT / "services.schema.json").read_text())
    assert printed == committed, "services.schema.json is stale: run soulfra-supervisor schema"
    jsonschema.validate(json.loads((ROOT / "services.json").read_text()), committed)


def test_schema_rejects_what_the_loader_rejects():
    bad = {"errorMonitoring": {"services": {"x": {"checks": [{"type": "tcp", "port": 0}]}}}}
    try:
        jsonschema.validate(bad, json_schema())
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("schema accepted port 0")


def test_platform_fields_and_ladder_defaults():
    cfg = parse_config({"errorMonitoring": {
        "services": {
            "chat-analyzer": {"baseUrl": "http://127.0.0.1:9000", "healthCheckPath": "/health",
                              "timeoutThreshold": 10000, "errorThreshold": 5,
                              "autoRestart": True, "systemdUnit": "chat.service"},
            "trust-engine": {"port": 9001, "healthCheckPath": "/status", "timeoutThreshold": 5000,
                             "errorThreshold": 3, "autoRestart": True,
                             "dependsOn": ["chat-analyzer"],
                             "ladder": [{"strategy": "retry_failed", "attempts": 2}]}},
        "recovery": {"strategies": ["restart", "reconnect", "retry"], "maxAttempts": 4,
                     "backoffMultiplier": 3}}}, Settings(health_check_interval=15000))
    em = cfg.error_monitoring
    chat = em.services["chat-analyzer"]
    assert chat.checks[0].url == "http://127.0.0.1:9000/health"
    assert chat.checks[0].timeout == 10000 and chat.error_threshold == 5
    assert chat.interval == 15000, "HEALTH_CHECK_INTERVAL is the default interval"
    assert [s.strategy for s in chat.ladder] == ["restart_systemd", "retry_failed"]
    trust = em.services["trust-engine"]
    assert trust.checks[0].url == "http://127.0.0.1:9001/status"
    assert [(s.strategy, s.attempts) for s in trust.ladder] == [("retry_failed", 2)]
    assert em.recovery.max_attempts == 4 and em.recovery.backoff_multiplier == 3


def test_dependency_cycle_and_unknown_dependency_are_errors():
    def problems(services: dict) -> list[str]:
        try:
            parse_config({"errorMonitoring": {"services": services}})
        except ConfigError as exc:
            return exc.problems
        raise AssertionError("accepted")

    assert problems({"a": {"dependsOn": ["b"]}, "b": {"dependsOn": ["a"]}}) == [
        "errorMonitoring: dependsOn has a cycle: a -> b -> a"]
    assert problems({"a": {"dependsOn": ["ghost"]}}) == [
        "errorMonitoring.services.a.dependsOn: unknown service 'ghost'"]


def test_credentials_in_url_and_an_authorization_header_are_refused_when_read():
    """aiohttp cannot send both; the file is refused instead of the check crashing each run."""
    def problems(service: dict) -> list[str]:
        try:
            parse_config({"errorMonitoring": {"services": {"api": service}}})
        except ConfigError as exc:
            return exc.problems
        raise AssertionError("accepted")

    headers = {"Authorization": "Bearer abc"}
    explicit = problems({"checks": [{"type": "http", "url": "http://u:p@127.0.0.1:9/health",
                                     "headers": headers}]})
    assert len(explicit) == 1 and explicit[0].startswith(
        "errorMonitoring.services.api.checks[0]") and "headers.Authorization" in explicit[0]
    derived = problems({"baseUrl": "http://u:p@127.0.0.1:9", "checks": [
        {"type": "http", "path": "/health", "headers": headers}]})
    assert len(derived) == 1 and "checks[0].headers.Authorization" in derived[0]
