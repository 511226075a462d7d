"""The words of the OpenAPI document: how one operation is described (`op`) and the shared
parameter schemas. The table of every route is openapi_paths.py; the document, openapi.py."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from supervisor.api.routes.error_reports import ErrorReport

JSON = "application/json"
Op = dict[str, Any]
Body = type[BaseModel] | dict[str, Any]
Query = str | tuple[str, dict[str, Any]]  # a description, or (description, JSON schema)
# Schemas the request bodies refer to ("$ref": "#/components/schemas/Matchers"), filled by
# body_schema() as PATHS is built.
COMPONENTS: dict[str, Any] = {}

# Query parameters as parse_time / parse_int / parse_choice in supervisor/api take them.
SINCE = {"type": "string", "pattern": r"^([0-9]{1,12}(\.[0-9]{1,9})?(ms|s|m|h|d|w)|"
                                      r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+)?"
                                      r"(Z|[+-][0-9]{2}:[0-9]{2})?)$",
         "description": "30s, 15m, 1h, 7d or an ISO-8601 time", "maxLength": 40}
BUCKET = {"type": "string", "pattern": r"^[0-9]{1,4}(h|d)$"}


def error_answer(text: str) -> dict[str, Any]:
    return {"description": text,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def limit(hi: int, default: int = 100) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": hi, "default": default}


def one_of(values: list[str] | tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def some_of(values: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A comma-separated list of these values."""
    word = "(" + "|".join(values) + ")"
    return {"type": "string", "pattern": f"^{word}(,{word})*$"}


def body_schema(body: Body) -> dict[str, Any]:
    """A model's JSON schema with its $defs moved to components (OpenAPI resolves refs there)."""
    if not isinstance(body, type):
        return body
    schema = body.model_json_schema(by_alias=True,
                                    ref_template="#/components/schemas/{model}")
    COMPONENTS.update(schema.pop("$defs", {}))
    return schema


def op(summary: str, *, description: str = "", tag: str = "monitoring",
       query: dict[str, Query] | None = None, body: Body | None = None,
       body_required: bool = True, responses: dict[int, str] | None = None,
       content: str | tuple[str, ...] = JSON, headers: dict[str, str] | None = None,
       html_errors: bool = False) -> Op:
    """One operation: `query` maps a name to its description (or description and schema),
    `headers` a name to its description, `responses` a status code to what it means; the
    first 2xx answer is of type `content`. An optional body says body_required=False."""
    out: Op = {"summary": summary, "tags": [tag]}
    if description:
        out["description"] = description
    params = []
    for n, q in (query or {}).items():
        text, schema = q if isinstance(q, tuple) else (q, {"type": "string"})
        params.append({"name": n, "in": "query", "required": False, "description": text,
                       "schema": schema})
    params += [{"name": n, "in": "header", "required": False, "description": d,
                "schema": {"type": "string"}} for n, d in (headers or {}).items()]
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {"required": body_required,
                              "content": {JSON: {"schema": body_schema(body)}}}
    answers: dict[str, Any] = {}
    for code, text in _with_common(responses or {200: "OK"}, body is not None).items():
        if 200 <= code < 300 and not any(k.startswith("2") for k in answers):
            kinds = (content,) if isinstance(content, str) else content
            answers[str(code)] = {"description": text, "content": {k: {} for k in kinds}}
        elif code >= 400:
            answers[str(code)] = error_answer(text)
            if html_errors:  # a page for a person who followed a link
                answers[str(code)]["content"]["text/html"] = {}
        else:
            answers[str(code)] = {"description": text}
    out["responses"] = answers
    return out


def _with_common(responses: dict[int, str], has_body: bool) -> dict[int, str]:
    """The answers supervisor/api/params.py gives every body, documented once here."""
    if not has_body:
        return responses
    common = {400: "the body is not JSON, is not UTF-8, nests too deep or repeats a key",
              413: "the body is larger than 64 KiB",
              415: "Content-Type is not application/json (charset utf-8)"}
    return {**responses, **{k: v for k, v in common.items() if k not in responses}}


HEARTBEAT_BODY: dict[str, Any] = {
    "type": "object", "description": "Optional. Counters by name; `message` is free text.",
    "properties": {"message": {"type": "string", "maxLength": 500}},
    "additionalProperties": {"type": "number"}}

SDK_ANSWERS = {200: "accepted: {\"id\": event id}", 400: "malformed (the reason says why)",
               401: "missing or unknown key", 403: "revoked key, wrong project or origin",
               413: "too large (body, inflated body or one event)",
               429: "over the service's budget: Retry-After and X-Sentry-Rate-Limits"}
SDK_HEADERS = {"X-Sentry-Auth": "Sentry sentry_key=<key>, sentry_version=7 (or the "
                                "sentry_key query parameter, or the envelope's dsn)",
               "Content-Encoding": "gzip, deflate, br or none"}


def _error_report_schema() -> dict[str, Any]:
    one = ErrorReport.model_json_schema(by_alias=True)
    return {"oneOf": [one, {"type": "array", "items": one, "maxItems": 1000}]}


ERROR_REPORT_SCHEMA = _error_report_schema()

# -- the endpoints --------------------------------------------------------------------------


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error", "status"],
    "properties": {
        "error": {"type": "string", "description": "what went wrong, for a person"},
        "status": {"type": "integer"},
        "field": {"type": "string", "description": "the field at fault, when one is"},
        "problems": {"type": "array", "items": {
            "type": "object", "properties": {"field": {"type": "string"},
                                             "message": {"type": "string"}}}},
    },
}
