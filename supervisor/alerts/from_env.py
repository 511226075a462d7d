"""Channels the environment asks for (SPEC §5): ERROR_EMAIL with SOULFRA_SMTP_URL becomes the
channel `email`; CRITICAL_ERROR_PHONE with SOULFRA_PHONE_URL one channel `phone` per number
(`phone-2`, ... for more), each with its own delivery loop and rate limit."""

from __future__ import annotations

from typing import Any

from loguru import logger

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Channel
from supervisor.clients.http import HttpClient
from supervisor.config.settings import Settings


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def env_channels(settings: Settings, taken: set[str], http: HttpClient) -> dict[str, Channel]:
    out: dict[str, Channel] = {}
    specs: list[dict[str, Any]] = []
    recipients = _split(settings.error_email)
    if recipients and settings.smtp_url is not None and "email" not in taken:
        specs.append({"type": "email", "name": "email", "to": recipients,
                      "url": settings.smtp_url.get_secret_value()})
    if settings.phone_url is not None:
        for i, number in enumerate(_split(settings.critical_error_phone)):
            name = "phone" if i == 0 else f"phone-{i + 1}"
            if name not in taken:
                specs.append({"type": "phone", "name": name, "number": number,
                              "url": settings.phone_url.get_secret_value(),
                              "maxPerHour": settings.phone_max_per_hour})
    for spec in specs:
        cls = registry.get(spec["type"])
        try:
            cc = cls.config_model.model_validate(spec)
        except ValueError as exc:  # pydantic's message names the field, never the secret URL
            logger.error("alerts: cannot use the environment's {} channel: {}", spec["name"],
                         _problems(exc))
            continue
        out[spec["name"]] = cls(cc, http)
    return out


def _problems(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())


def fill_from_settings(spec: Any, settings: Settings | None) -> Any:
    """An email or phone channel in services.json without a url uses the environment's."""
    if getattr(spec, "url", "") is not None or settings is None:
        return spec
    url = settings.smtp_url if spec.type == "email" else \
        settings.phone_url if spec.type == "phone" else None
    return spec.model_copy(update={"url": url}) if url is not None else spec
