"""Hypothesis strategies for documents a JSON Schema accepts, built part by part.

hypothesis-jsonschema builds the strategy of an object's property while it draws it: every
draw resolves and canonicalises that property's sub-schema again (with a `check_schema` of
each piece). For services.json, where a service inlines every check type and every recovery
strategy, one document cost 0.1-7 s and a shrink replays hundreds of draws, so one schema
disagreement became a test timeout. Here the schema's structure (pydantic models: objects of
named properties, lists, maps, anyOf, discriminated oneOf) becomes plain Hypothesis strategies,
built once per node; only the leaves (strings, numbers, enums, patterns, ...) go to
hypothesis-jsonschema, each a small schema. What is drawn is a document the schema accepts
(lists and maps are bounded in size, nothing else is left out).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

# Keywords that say nothing about which values are valid.
ANNOTATIONS = frozenset({"title", "description", "default", "writeOnly", "readOnly",
                         "examples", "deprecated", "$comment"})
OBJECT = frozenset({"type", "properties", "required", "additionalProperties"})
MAP = frozenset({"type", "additionalProperties", "propertyNames"})
ARRAY = frozenset({"type", "items", "minItems", "maxItems"})


class SchemaDocuments:
    """`strategy()` draws documents of `schema`; `strategy(node)` draws values of one part."""

    def __init__(self, schema: dict[str, Any], max_items: int = 2) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.max_items = max_items
        self._by_def: dict[str, st.SearchStrategy[Any]] = {}

    def strategy(self, node: Any = None) -> st.SearchStrategy[Any]:
        if node is None:
            node = {k: v for k, v in self.schema.items() if k not in ("$defs", "$schema")}
        if not isinstance(node, dict):
            return self._leaf(node)
        keys = set(node) - ANNOTATIONS
        if keys == {"$ref"}:
            return self._ref(node["$ref"])
        if keys == {"anyOf"}:
            return st.one_of([self.strategy(branch) for branch in node["anyOf"]])
        if keys == {"oneOf", "discriminator"} and self._exclusive(node):
            return st.one_of([self.strategy(branch) for branch in node["oneOf"]])
        if node.get("type") == "object":
            if keys <= OBJECT and "properties" in node and node.get("additionalProperties") in (
                    False, None):
                return self._object(node)
            if keys <= MAP and isinstance(node.get("additionalProperties"), dict):
                names = from_schema({"type": "string", **node.get("propertyNames", {})})
                return st.dictionaries(names, self.strategy(node["additionalProperties"]),
                                       max_size=self.max_items)
        if node.get("type") == "array" and keys <= ARRAY and "items" in node:
            low = node.get("minItems", 0)
            high = max(low, min(node.get("maxItems", self.max_items), self.max_items))
            return st.lists(self.strategy(node["items"]), min_size=low, max_size=high)
        return self._leaf(node)

    def def_name(self, ref: str) -> str:
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"only local $defs references are supported, not {ref}")
        return ref.removeprefix("#/$defs/")

    def _ref(self, ref: str) -> st.SearchStrategy[Any]:
        name = self.def_name(ref)
        if name not in self._by_def:
            # deferred: a definition may refer to itself; built on first draw, then kept.
            self._by_def[name] = st.deferred(lambda: self.strategy(self.defs[name]))
        return self._by_def[name]

    def _object(self, node: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        required = set(node.get("required", []))
        props = node["properties"]
        return st.fixed_dictionaries(
            {k: self.strategy(v) for k, v in props.items() if k in required},
            optional={k: self.strategy(v) for k, v in props.items() if k not in required})

    def _exclusive(self, node: dict[str, Any]) -> bool:
        """True when every branch of a discriminated oneOf requires its own const tag, so a
        value of one branch can never match another (then oneOf is just a choice)."""
        tag = node["discriminator"]["propertyName"]
        seen = set()
        for branch in node["oneOf"]:
            if set(branch) != {"$ref"}:
                return False
            target = self.defs[self.def_name(branch["$ref"])]
            const = target.get("properties", {}).get(tag, {}).get("const")
            if const is None or tag not in target.get("required", []) or const in seen:
                return False
            seen.add(const)
        return True

    def _leaf(self, node: Any) -> st.SearchStrategy[Any]:
        """hypothesis-jsonschema for a small schema, with only the definitions it refers to."""
        if not isinstance(node, dict):
            return from_schema(node)
        used: dict[str, Any] = {}
        todo = [node]
        while todo:
            for ref in _refs(todo.pop()):
                name = self.def_name(ref)
                if name not in used:
                    used[name] = self.defs[name]
                    todo.append(used[name])
        return from_schema({**node, "$defs": used} if used else node)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
