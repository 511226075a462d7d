"""HTTP check: status, latency; tells refused, stalled and unhealthy apart.

Optionally it also holds the body to conditions (a JSON path equals / matches / is within
bounds), to a JSON Schema (a mismatch is CONTRACT_VIOLATION, with the drift from the last good
shape), checks response headers, and warns before the TLS certificate expires.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from health_checks import registry
from health_checks._http_transport import (
    Answer,
    FetchFailure,
    LeanFetcher,
    aiohttp_fetch,
    lean_target,
)
from health_checks._jsonpath import MISSING, lookup, parse
from health_checks._shape import describe, drift, shape
from health_checks.base import (
    CheckConfig,
    CheckEnv,
    CheckKind,
    CheckResult,
    HealthCheck,
    compile_regex,
    elapsed_ms,
)
from supervisor.clients.http import conflicting_credentials


class BodyCondition(BaseModel):
    """One condition on the JSON body; give `path` and one or more tests."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    path: str = Field(description="JSON path such as $.status or $.queues[0].depth")
    equals: Any = Field(None, description="The value must equal this.")
    matches: str | None = Field(None, description="Regex the value (as text) must contain.")
    min: float | None = None
    max: float | None = None
    exists: bool | None = Field(None, description="true: must be present; false: absent.")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        parse(v)
        return v

    @field_validator("matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            compile_regex(v)
        return v

    def failure(self, body: Any) -> str | None:
        """Why the body fails this condition, or None."""
        value = lookup(body, self.path)
        if value is MISSING:
            return None if self.exists is False else f"{self.path} is missing"
        if self.exists is False:
            return f"{self.path} should be absent"
        if "equals" in self.model_fields_set and value != self.equals:
            return f"{self.path} is {json.dumps(value)[:80]}, expected {json.dumps(self.equals)}"
        if self.matches is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            if not re.search(self.matches, text):
                return f"{self.path} = {text[:80]!r} does not match {self.matches!r}"
        if self.min is not None or self.max is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{self.path} should be a number, is {json.dumps(value)[:80]}"
            if self.min is not None and value < self.min:
                return f"{self.path} = {value} is below {self.min:g}"
            if self.max is not None and value > self.max:
                return f"{self.path} = {value} is above {self.max:g}"
        return None


class HttpCheckConfig(CheckConfig):
    type: Literal["http"] = "http"
    url: str | None = Field(
        default=None, pattern=r"^https?://",
        description="Full URL. Default: the service's baseUrl + path."
    )
    path: str | None = Field(default=None, description="Path joined to the service's baseUrl.")
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[int] = Field(
        default_factory=list,
        alias="expectStatus",
        description="Acceptable status codes. Default: any 2xx.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with the request.")
    expect_headers: dict[str, str] = Field(
        default_factory=dict, alias="expectHeaders",
        description="Response headers that must be present, each value a regex it must match.")
    expect: list[BodyCondition] = Field(default_factory=list,
                                        description="Conditions on the JSON body.")
    json_schema: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON Schema the body must satisfy (contract).")
    schema_file: str | None = Field(None, alias="schemaFile",
                                    description="The same, read from a file.")
    tls_expiry_days: float = Field(14, ge=0, alias="tlsExpiryDays",
                                   description="An https certificate expiring sooner than "
                                               "this makes the check degraded.")
    ca_file: str | None = Field(None, alias="caFile",
                                description="CA bundle to verify the server with.")
    verify_tls: bool = Field(True, alias="verifyTls")
    reuse_connection: bool = Field(
        True, alias="reuseConnection",
        description="Keep the connection between checks where the server allows keep-alive "
                    "(plain http to an IP address; a fresh one every 10 checks and after any "
                    "failure). Default: the service's reuseConnection.")
    client: Literal["auto", "aiohttp"] = Field(
        "auto", description="auto: the lean probe where the check allows it, else aiohttp.")

    @field_validator("expect_headers")
    @classmethod
    def _header_regexes(cls, v: dict[str, str]) -> dict[str, str]:
        for pattern in v.values():
            compile_regex(pattern)
        return v

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ssl.create_default_context(cafile=v)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load CA file {v}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _one_kind_of_credentials(self) -> HttpCheckConfig:
        problem = conflicting_credentials(self.url, self.headers)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _contract(self) -> HttpCheckConfig:
        if self.json_schema is not None and self.schema_file is not None:
            raise ValueError("give schema or schemaFile, not both")
        if self.schema_file is not None:
            try:
                self.json_schema = json.loads(Path(self.schema_file).read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"schemaFile {self.schema_file}: {exc}") from None
        if self.json_schema is not None:
            import jsonschema  # a cost only for configs that use a schema

            cls = jsonschema.validators.validator_for(self.json_schema)
            try:
                cls.check_schema(self.json_schema)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"schema is not a valid JSON Schema: {exc.message}") from None
        return self

    @property
    def reads_body(self) -> bool:
        return bool(self.expect) or self.json_schema is not None


@registry.register("http")
class HttpCheck(HealthCheck):
    type_name: ClassVar[str] = "http"
    config_model: ClassVar[type[CheckConfig]] = HttpCheckConfig
    config: HttpCheckConfig

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        cfg = self.config
        self._validator: Any = None
        if cfg.json_schema is not None:
            import jsonschema

            self._validator = jsonschema.validators.validator_for(cfg.json_schema)(
                cfg.json_schema)
        self.good_shape: dict[str, str] | None = None  # of the last body that kept the contract
        self._drift: dict[str, Any] = {}
        self._cert: dict[str, Any] | None = None
        self._cert_at: float | None = None
        self._ssl: ssl.SSLContext | bool = True
        if cfg.ca_file:
            self._ssl = ssl.create_default_context(cafile=cfg.ca_file)
        elif not cfg.verify_tls:
            self._ssl = False
        where = lean_target(cfg.url or "", cfg.headers) if cfg.client == "auto" else None
        self._lean = None if where is None else LeanFetcher(
            cfg.url or "", cfg.method, cfg.headers, where, read_body=cfg.reads_body,
            reuse=cfg.reuse_connection, on_lost=self._connection_lost)
        self._verifying_loss = False
        self._https = urlsplit(cfg.url or "").scheme == "https"

    @property
    def client(self) -> str:
        """Which path fetches the answer: "lean" (supervisor/clients/http_probe.py) or
        "aiohttp"."""
        return "lean" if self._lean is not None else "aiohttp"

    @property
    def reusing(self) -> bool:
        """Whether its connection is kept between checks (turned off when the server closes
        idle connections before the next check would come)."""
        return self._lean is not None and self._lean.reusing

    async def close(self) -> None:
        if self._lean is not None:
            self._lean.forget_connection()

    def _connection_lost(self, exc: Exception | None) -> None:
        """The kept connection closed between checks: the server may have died. Check now."""
        self._verifying_loss = True
        self.notify_trouble(f"kept connection to {self.config.url} closed"
                            + (f" ({exc})" if exc else ""))

    async def run(self) -> CheckResult:
        result = await self._run()
        if self._lean is not None:
            if not result.ok:
                self._lean.forget_connection()  # the next check starts from a fresh one
            if self._verifying_loss:
                self._verifying_loss = False
                if result.ok:  # alive: this server closes idle connections before our next
                    logger.info("{}: {} closes idle connections between checks; using a "
                                "fresh connection for each", self.service, self.config.url)
                    self._lean.stop_reusing()
        return result

    async def _run(self) -> CheckResult:
        cfg = self.config
        assert cfg.url is not None  # filled in by the service config
        started = time.perf_counter()
        try:
            async with asyncio.timeout(cfg.timeout_s):
                if self._lean is not None:
                    answer = await self._lean.fetch()
                else:
                    answer = await aiohttp_fetch(self.env.http, cfg.url, cfg.method,
                                                 cfg.headers, self._ssl)
        except TimeoutError:
            # The answer (or part of it) had arrived when the timeout fired: the daemon was
            # late to read it. The self-watch then judges the result inconclusive.
            waiting = self._lean is not None and self._lean.probe.answer_waiting
            return self.result(CheckKind.STALLED, elapsed_ms(started),
                               f"no answer from {cfg.url} within {cfg.timeout:.0f} ms",
                               **({"answerWaiting": True} if waiting else {}))
        except FetchFailure as failure:
            return self.result(failure.kind, elapsed_ms(started), failure.message)
        latency = elapsed_ms(started)
        return await self._judge(answer, latency)

    async def _judge(self, answer: Answer, latency: float) -> CheckResult:
        cfg = self.config
        status = answer.status
        ok = status in cfg.expect_status if cfg.expect_status else 200 <= status < 300
        if not ok:
            return self.result(CheckKind.UNHEALTHY, latency,
                               f"{cfg.url} answered HTTP {status}", status=status)
        for name, pattern in cfg.expect_headers.items():
            value = answer.header(name)
            if value is None or not re.search(pattern, value):
                got = "missing" if value is None else repr(value[:80])
                return self.result(CheckKind.UNHEALTHY, latency,
                                   f"header {name} is {got}, expected to match {pattern!r}",
                                   status=status)
        if cfg.reads_body:
            problem = self._judge_body(answer.body, latency, status)
            if problem is not None:
                return problem
        expiry = await self._tls_days_left() if self._https else None
        details: dict[str, Any] = {"status": status}
        if expiry is not None:
            details["tlsDaysLeft"] = round(expiry, 1)
            if expiry < cfg.tls_expiry_days:
                return self.result(CheckKind.DEGRADED, latency,
                                   f"TLS certificate of {cfg.url} expires in {expiry:.1f} days "
                                   f"(warn under {cfg.tls_expiry_days:g})", **details)
        if self._drift:
            details["drift"] = self._drift
        return self.result(CheckKind.HEALTHY, latency, **details)

    async def _tls_days_left(self) -> float | None:
        """Days until the server's certificate expires (https only, when it is verified).

        aiohttp has released the connection by the time a short answer is read, so the
        certificate comes from a handshake of its own, at most every TLS_RECHECK_S.
        """
        parts = urlsplit(self.config.url or "")
        if parts.scheme != "https" or self._ssl is False:
            return None
        now = time.monotonic()
        if self._cert_at is not None and now - self._cert_at < TLS_RECHECK_S:
            return _days_left(self._cert)
        ctx = self._ssl if isinstance(self._ssl, ssl.SSLContext) else \
            ssl.create_default_context()
        try:
            async with asyncio.timeout(self.config.timeout_s):
                _, writer = await asyncio.open_connection(
                    parts.hostname, parts.port or 443, ssl=ctx,
                    server_hostname=parts.hostname)
        except (OSError, TimeoutError, ssl.SSLError):
            return None  # the request itself already passed; expiry stays unknown this time
        ssl_object = writer.get_extra_info("ssl_object")
        self._cert = ssl_object.getpeercert() if ssl_object is not None else None
        self._cert_at = now
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass
        return _days_left(self._cert)

    def _judge_body(self, body: bytes, latency: float, status: int) -> CheckResult | None:
        cfg = self.config
        self._drift = {}
        try:
            data = json.loads(body)
        except ValueError:
            kind = CheckKind.CONTRACT_VIOLATION if self._validator else CheckKind.UNHEALTHY
            return self.result(kind, latency, f"{cfg.url} did not answer JSON: "
                                              f"{body[:80].decode(errors='replace')!r}",
                               status=status)
        now = shape(data)
        changed = drift(self.good_shape, now) if self.good_shape is not None else {}
        if self._validator is not None:
            import jsonschema

            error = jsonschema.exceptions.best_match(self._validator.iter_errors(data))
            if error is not None:
                where = error.json_path
                msg = f"{cfg.url} body breaks its schema at {where}: {error.message[:200]}"
                if changed:
                    msg += f"; drift from the last good shape: {describe(changed)}"
                return self.result(CheckKind.CONTRACT_VIOLATION, latency, msg, status=status,
                                   violation={"path": where, "message": error.message[:500]},
                                   drift=changed)
        for condition in cfg.expect:
            why = condition.failure(data)
            if why is not None:
                return self.result(CheckKind.UNHEALTHY, latency, f"{cfg.url}: {why}",
                                   status=status)
        self._drift = changed
        self.good_shape = now
        return None


TLS_RECHECK_S = 600.0


def _days_left(cert: dict[str, Any] | None) -> float | None:
    if not cert or "notAfter" not in cert:
        return None
    return (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400

