"""The OpenAPI document names every route the app serves, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

from supervisor.api.app import create_app
from supervisor.api.openapi import PATHS, app_routes, document, documented
from supervisor.config.settings import Settings
from supervisor.daemon import Daemon
from tests.helpers import services_file


def _app(tmp_path: Path):
    config = tmp_path / "services.json"
    config.write_text(json.dumps(services_file({})))
    # Every optional route switched on, so that those are checked too.
    daemon = Daemon(Settings(config=config, data_dir=tmp_path / "data", fault_injection=True))
    return create_app(daemon)


def _stub(method: str, path: str) -> str:
    entry = 'op("<what it does>", responses={200: "..."})'
    return f'    "{path}": {{\n        "{method}": {entry},\n    }},'


async def test_every_route_is_documented(tmp_path):
    served = app_routes(_app(tmp_path))
    missing = sorted(served - documented(), key=lambda mp: mp[1])
    assert not missing, (
        "routes missing from the OpenAPI document: add to PATHS in supervisor/api/openapi.py "
        "(merge into an existing path's entry when the path is there):\n"
        + "\n".join(_stub(m, p) for m, p in missing))
    stale = sorted(documented() - served, key=lambda mp: mp[1])
    assert not stale, ("PATHS in supervisor/api/openapi.py documents routes the app does not "
                       f"serve; remove or fix them: {stale}")


async def test_document_is_served_and_well_formed(daemon_factory):
    d = daemon_factory(services_file({}))
    status, doc = d.get("/api/monitoring/openapi.json")
    assert status == 200
    assert doc == json.loads(json.dumps(document()))
    assert "/api/monitoring/debug/faults" not in doc["paths"], "served only when enabled"
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == set(PATHS) - {"/api/monitoring/debug/faults"}
    recover = doc["paths"]["/api/monitoring/recover"]["post"]
    schema = recover["requestBody"]["content"]["application/json"]["schema"]
    assert {"action", "target", "force", "dryRun"} <= set(schema["properties"])
    assert recover["security"] == [{"bearer": []}, {}]
    one = doc["paths"]["/api/monitoring/services/{name}"]["get"]
    assert one["parameters"][0] == {"name": "name", "in": "path", "required": True,
                                    "schema": {"type": "string"}}
    for path, ops in doc["paths"].items():
        for method, operation in ops.items():
            assert operation["summary"] and operation["responses"], (method, path)
