"""The shipped deployment files: Kubernetes manifests against the Kubernetes schemas (offline,
kubernetes-validate ships them), and the compose file and Dockerfile against what the daemon
actually reads (its settings, its services.json models, its label discovery)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from supervisor.clients.docker import DockerClient
from supervisor.config.loader import parse_config
from supervisor.config.settings import Settings
from supervisor.containers.discovery import LabelDiscovery, ServiceSlot
from tests.support.helpers import ROOT

K8S = ROOT / "deploy" / "kubernetes"
PROBE_MODULE = "supervisor.cli.probe"


def _docs() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out.extend((path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return out


def _kind(kind: str) -> dict[str, Any]:
    found = [d for _, d in _docs() if d["kind"] == kind]
    assert len(found) == 1, f"one {kind} expected, found {len(found)}"
    return found[0]


@pytest.mark.parametrize(("path", "doc"), _docs(), ids=lambda v: getattr(v, "name", "")
                         or (v.get("kind", "") if isinstance(v, dict) else ""))
def test_manifest_is_valid_kubernetes(path, doc):
    version = kubernetes_validate.latest_version()
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{path.name} {doc['kind']}: {exc.message} at {list(exc.path)}")


def test_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def _container() -> dict[str, Any]:
    return dict(_kind("Deployment")["spec"]["template"]["spec"]["containers"][0])


def test_configmap_holds_a_valid_services_json_mounted_so_that_updates_reach_the_pod():
    cm = _kind("ConfigMap")
    parse_config(json.loads(cm["data"]["services.json"]), Settings())
    pod = _kind("Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if "configMap" in v)
    assert volume["configMap"]["name"] == cm["metadata"]["name"]
    mount = next(m for m in _container()["volumeMounts"] if m["name"] == volume["name"])
    assert "subPath" not in mount, "a subPath mount never sees ConfigMap updates"
    env = {e["name"]: e for e in _container()["env"]}
    assert env["SOULFRA_CONFIG"]["value"] == f"{mount['mountPath']}/services.json"
    assert float(env["SOULFRA_CONFIG_POLL_INTERVAL"]["value"]) > 0  # live reload is on


def test_api_token_comes_from_the_secret():
    secret = _kind("Secret")
    ref = {e["name"]: e for e in _container()["env"]}["SOULFRA_API_TOKEN"]["valueFrom"]
    assert ref["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert ref["secretKeyRef"]["key"] in secret["stringData"]


def test_probes_run_a_module_the_image_has_and_the_pod_runs_unprivileged():
    c = _container()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["exec"]["command"] == ["python3", "-m", PROBE_MODULE]
    assert importlib.util.find_spec(PROBE_MODULE) is not None
    pod = _kind("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == _kind("ServiceAccount")["metadata"]["name"]
    # Graceful stop: kubelet waits longer than the daemon's own shutdown bound.
    bound = float({e["name"]: e for e in c["env"]}["SOULFRA_SHUTDOWN_TIMEOUT"]["value"])
    assert pod["terminationGracePeriodSeconds"] > bound


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text()))


def test_compose_supervisor_settings_are_ones_the_daemon_reads(monkeypatch):
    sup = _compose()["services"]["supervisor"]
    env = {k: re.sub(r"\$\{[^}]*\}", "x" * 32, str(v)) for k, v in sup["environment"].items()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.docker_discovery is True
    assert settings.docker_host == "unix:///var/run/docker.sock"
    assert "/var/run/docker.sock:/var/run/docker.sock" in sup["volumes"]
    assert settings.shutdown_timeout < _seconds(sup["stop_grace_period"])


def _seconds(text: str) -> float:
    assert text.endswith("s")
    return float(text[:-1])


async def _nothing(*_: Any) -> None:
    return None


@pytest.mark.parametrize("name", ["demo", "redis", "postgres"])
def test_compose_labels_are_valid_services(name):
    labels = {k: str(v) for k, v in _compose()["services"][name]["labels"].items()}
    slot = ServiceSlot(file_services=dict, recovery_defaults=dict, add=_nothing,
                       remove=_nothing)
    found = LabelDiscovery(DockerClient(), slot, Settings()).service_from_labels(
        f"soulfra-{name}-1", labels, {"NetworkSettings": {"Networks": {
            "soulfra_default": {"IPAddress": "172.20.0.3"}}}})
    assert not isinstance(found, list), found
    _, svc = found
    assert svc.ladder[0].strategy == "restart_container"


def test_dockerfile_healthcheck_and_user():
    text = (ROOT / "Dockerfile").read_text()
    assert f'CMD ["python3", "-m", "{PROBE_MODULE}"]' in text
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^ARG BASE=python:3\.11-slim$", text, re.M)
    shipped = re.search(r"^COPY (\S+) /etc/soulfra-supervisor/services.json$", text, re.M)
    assert shipped is not None
    parse_config(json.loads((ROOT / shipped.group(1)).read_text()), Settings())
