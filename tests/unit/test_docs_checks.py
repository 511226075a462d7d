"""Every services.json example in docs/checks.md is valid, and every check type is documented."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import health_checks
from supervisor.config.loader import parse_config
from tests.support.helpers import ROOT, services_file

DOC = ROOT / "docs" / "checks.md"


def _examples() -> list[dict]:
    """Each ```json block as checks or services: whole, wrapped in {}, or one after another."""
    out = []
    for block in re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S):
        for attempt in (block, "{" + block + "}"):
            try:
                out.append(json.loads(attempt))
                break
            except ValueError:
                continue
        else:  # several objects one after another
            decoder, pos = json.JSONDecoder(), 0
            while block[pos:].strip():
                pos += len(block[pos:]) - len(block[pos:].lstrip())
                obj, pos = decoder.raw_decode(block, pos)
                out.append(obj)
    return out


def _local_files(ex: dict, tmp: Path) -> dict:
    """The examples name files of a production host; point them at real local ones."""
    text = json.dumps(ex)
    schema = tmp / "schema.json"
    schema.write_text(json.dumps({"type": "object"}))
    text = re.sub(r'"schemaFile": "[^"]*"', f'"schemaFile": "{schema}"', text)
    ca = tmp / "ca.pem"
    if not ca.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(tmp / "key.pem"), "-out", str(ca), "-days", "1", "-subj", "/CN=ca"],
                       check=True, capture_output=True)
    text = re.sub(r'"caFile": "[^"]*"', f'"caFile": "{ca}"', text)
    return json.loads(text)


def test_every_example_validates_and_every_type_is_documented(tmp_path):
    examples = [_local_files(ex, tmp_path) for ex in _examples()]
    assert len(examples) >= 12
    seen: set[str] = set()
    for ex in examples:
        if "type" in ex:
            services = {"svc": {"port": 8080, "checks": [ex]}}
        else:
            services = {name: {"port": 8080, **svc} for name, svc in ex.items()}
        parsed = parse_config(services_file(services))
        for svc in parsed.error_monitoring.services.values():
            seen.update(c.type for c in svc.checks)
    assert seen == set(health_checks.registry.names()) - _third_party()


def _third_party() -> set[str]:
    return {n for n, cls in health_checks.registry.items().items()
            if not cls.__module__.startswith("health_checks.")}
