"""The published schema and `validate` agree (issue 13, item 10): documents generated from
services.schema.json validate; mutated ones fail with a JSON path, never with a traceback."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from supervisor.config.services import ConfigError, config_from_text, json_schema, parse_config

ROOT = Path(__file__).resolve().parents[4]

# Rules of `validate` that compare two values or need the running registry: no JSON Schema
# keyword can say them, so an editor cannot show them; every other refusal is a disagreement.
CROSS_FIELD = (
    "end must be after start",                   # silences, maintenance windows
    "is already used by",                        # channel names unique across the list
    "dependsOn",                                 # names another service; cycles
    "does not apply to this service",            # a ladder alias needs a restart/redis block
    "unknown signal",                            # any spelling Python's signal module knows
    "needs exactly one target",                  # failover: redisUrl + key | mqttUrl + topic
    "a Redis target needs", "an MQTT target needs", "broker must look like",
    # Said with if/then in the schema, which the generator below leaves out (hypothesis-
    # jsonschema takes minutes per example with them); the schema itself has them.
    "with shell: true, command must be a single string",
    "healthCheckPath needs baseUrl or port",
)
SETTINGS = settings(max_examples=12, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
PROBLEM = re.compile(r"^(errorMonitoring|\$schema|the file |cannot read )")


def _without_if_then(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_if_then(v) for k, v in node.items() if k not in ("if", "then")}
    if isinstance(node, list):
        return [_without_if_then(v) for v in node]
    return node


SCHEMA = json_schema()


def test_the_shipped_schema_file_is_the_schema():
    assert json.loads((ROOT / "services.schema.json").read_text()) == SCHEMA


@pytest.mark.timeout(240)
@SETTINGS
@given(from_schema(_without_if_then(SCHEMA)))
def test_schema_valid_documents_validate(doc):
    try:
        parse_config(doc, base_dir=Path("/tmp"))
    except ConfigError as exc:
        left = [p for p in exc.problems if not any(rule in p for rule in CROSS_FIELD)]
        assert not left, f"the schema accepts what validate refuses: {left}"


def _mutations() -> st.SearchStrategy[tuple[list[Any], Any]]:
    junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                        | st.text(max_size=20),
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                        max_leaves=8)
    return st.tuples(st.lists(st.integers(0, 50), min_size=1, max_size=6), junk)


def _replace(doc: Any, steps: list[int], value: Any) -> Any:
    """Walk `steps` (indexes into keys/items, modulo their count), then put `value` there."""
    doc = copy.deepcopy(doc)
    node, parent, key = doc, None, None
    for step in steps:
        if isinstance(node, dict) and node:
            k = sorted(node)[step % len(node)]
        elif isinstance(node, list) and node:
            k = step % len(node)
        else:
            break
        parent, key, node = node, k, node[k]
    if parent is None:
        return value
    parent[key] = value
    return doc


SHIPPED = json.loads((ROOT / "services.json").read_text())


@pytest.mark.timeout(240)
@SETTINGS
@given(_mutations(), st.binary(max_size=8), st.integers(0, 10_000))
def test_mutated_documents_fail_with_a_path_never_a_traceback(mutation, noise, at):
    steps, value = mutation
    bad = _replace(SHIPPED, steps, value)
    text = json.dumps(bad, allow_nan=True).encode()
    for raw in (text, text[:at % (len(text) + 1)] + noise + text[at % (len(text) + 1):]):
        try:
            config_from_text(raw, ROOT / "services.json")
        except ConfigError as exc:
            assert exc.problems, raw[:200]
            for problem in exc.problems:
                assert PROBLEM.match(problem), problem
                assert "Traceback" not in problem and len(problem) < 1000
