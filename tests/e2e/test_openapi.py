"""The real daemon serves a well-formed OpenAPI document."""

from __future__ import annotations

import json

from supervisor.api.openapi import PATHS, document
from tests.support.helpers import services_file


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
