"""Schemathesis against the served OpenAPI document (issue 13, "keep them found"): generated
requests for every operation get no 5xx, and every answer matches what the document says
(status code, Content-Type, body schema, headers; a 405 carries Allow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import services_file

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance,allow_header_conformance")


@pytest.mark.timeout(240)
def test_schemathesis_finds_nothing(daemon_factory, tmp_path):
    d = daemon_factory(services_file({"disk": {
        "checks": [{"type": "disk", "path": str(tmp_path)}], "interval": 1000}}))
    st = Path(sys.executable).with_name("st")
    # Bounded: 5 examples per operation and phase (~30 operations, ~20 s); the seed makes
    # a failure reproducible (the output prints a curl command for each).
    done = subprocess.run(
        [str(st), "run", d.url + "/api/monitoring/openapi.json", "--max-examples", "5",
         "--phases", "examples,fuzzing", "--checks", CHECKS, "--seed", "13",
         "--generation-database", "none", "--request-timeout", "10", "--no-color"],
        capture_output=True, text=True, timeout=220, cwd=tmp_path)  # its .schemathesis cache
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert "Traceback" not in d.log(), d.log()[-3000:]
