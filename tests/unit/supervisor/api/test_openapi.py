"""Every route of the app is documented in the OpenAPI PATHS."""

from __future__ import annotations

import json
from pathlib import Path

from supervisor.api.app import create_app
from supervisor.api.openapi import app_routes, documented
from supervisor.config.settings import Settings
from supervisor.daemon import Daemon
from tests.support.helpers import services_file


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
        "routes missing from the OpenAPI document: add to PATHS in supervisor/api/openapi_paths.py "
        "(merge into an existing path's entry when the path is there):\n"
        + "\n".join(_stub(m, p) for m, p in missing))
    stale = sorted(documented() - served, key=lambda mp: mp[1])
    assert not stale, ("PATHS in supervisor/api/openapi_paths.py documents routes the app does not "
                       f"serve; remove or fix them: {stale}")
