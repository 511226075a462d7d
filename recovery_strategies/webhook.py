"""webhook: call an HTTP endpoint, usually the service's own repair hook (flush a cache,
reload a config, drop a stuck worker)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.clients.http import call_hook
from supervisor.core.redaction import redact_text


class WebhookConfig(StrategyConfig):
    strategy: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://", description="The endpoint to call.")
    method: Literal["POST", "PUT", "GET"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = Field(
        default=None, description="JSON body; default: service, correlationId and attempt.")
    timeout: float = Field(default=10000, gt=0, description="ms to wait for the answer.")
    expect_status: list[int] | None = Field(default=None, alias="expectStatus",
                                            description="Accepted statuses; default any 2xx.")


@registry.register("webhook")
class Webhook(RecoveryStrategy):
    name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[StrategyConfig]] = WebhookConfig
    config: WebhookConfig

    def plan(self) -> str:
        return f"{self.config.method} {redact_text(self.config.url)}"

    def _ok(self, status: int) -> bool:
        if self.config.expect_status:
            return status in self.config.expect_status
        return 200 <= status < 300

    async def run(self, ctx: RecoveryContext) -> Outcome:
        if ctx.dry_run:
            return Outcome(True, f"dry run: would {self.plan()}")
        body = self.config.body if self.config.body is not None else {
            "service": self.service, "correlationId": ctx.correlation_id,
            "attempt": ctx.attempt}
        import aiohttp  # the CLI (validate, status) never pays for it

        try:
            status, text = await call_hook(ctx.http, self.config.method, self.config.url,
                                           self.config.headers, body, self.config.timeout)
        except TimeoutError:
            return Outcome(False, f"{self.plan()} timed out after {self.config.timeout:g} ms")
        except aiohttp.ClientError as exc:
            why = redact_text(str(exc)) or type(exc).__name__
            return Outcome(False, f"{self.plan()} failed: {why}")
        output = redact_text(text[-2000:])
        if not self._ok(status):
            return Outcome(False, f"{self.plan()} answered {status}", output=output)
        return Outcome(True, f"{self.plan()} answered {status}", output=output)
