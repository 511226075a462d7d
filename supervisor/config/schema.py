"""The published JSON Schema of services.json (services.schema.json, `soulfra-supervisor
schema`), built from the models plus the rules pydantic's own schema leaves out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import recovery_strategies
from supervisor.config.services import LADDER_ALIASES, SERVICE_NAME, models


def json_schema() -> dict[str, Any]:
    """The published schema (services.schema.json): every rule of `validate` a schema can say.

    Pydantic's own schema misses what the daemon enforces outside field types: the service
    name pattern, that a discriminated item must name its `type`/`strategy` (a default tag
    is no tag: the union needs it), and that ladder entries may be alias strings. Rules that
    compare two values (end after start, dependsOn names a service) stay with `validate`.
    """
    _, file_model = models()
    schema = file_model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    defs = schema["$defs"]
    services = defs["ErrorMonitoring"]["properties"]["services"]
    services["propertyNames"] = {"pattern": SERVICE_NAME.pattern}
    # A strategy name alone is a step only when that strategy needs no options.
    steps = [*LADDER_ALIASES, *(n for n, s in sorted(recovery_strategies.registry.items().items())
                                if not _required_options(s.config_model))]
    defs["RecoveryDefaults"]["properties"]["strategies"]["items"] = {"enum": steps}
    ladder = defs["ServiceConfig"]["properties"]["ladder"]
    ladder["items"] = {"anyOf": [{"enum": steps}, ladder["items"]]}
    # `reconnect` holds the options of the reconnect_redis step (merged into it).
    options = dict(defs["ReconnectRedisConfig"])
    options["properties"] = {k: v for k, v in options["properties"].items()
                             if k != "strategy"}
    options["required"] = [k for k in options.get("required", []) if k != "strategy"]
    defs["ServiceConfig"]["properties"]["reconnect"] = {"anyOf": [options, {"type": "null"}]}
    for union in _discriminated(schema):
        tag = union["discriminator"]["propertyName"]
        for ref in union["discriminator"]["mapping"].values():
            target = defs[ref.rsplit("/", 1)[1]]
            if tag not in target.get("required", []):
                target["required"] = [tag, *target.get("required", [])]
    return schema


def _required_options(model: type[BaseModel]) -> list[str]:
    return [n for n, f in model.model_fields.items() if f.is_required() and n != "strategy"]


def _discriminated(node: Any) -> list[dict[str, Any]]:
    """Every {"discriminator": ..., "oneOf": ...} in a schema."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "discriminator" in item and "mapping" in item["discriminator"]:
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
