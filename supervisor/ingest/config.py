"""services.json `errorReporting` of a service: its project id and keys (when set by hand
rather than generated), and its ingest budget."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class ErrorReportingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    project_id: int | None = Field(None, ge=1, le=2**31 - 1, alias="projectId",
                                   description="The DSN's numeric project id; default: one "
                                               "assigned once and kept in the store.")
    keys: list[str] = Field(default_factory=list,
                            description="Public keys this service may report with (16-64 "
                                        "letters, digits, - or _); default: a generated one.",
                            json_schema_extra={"items": {"type": "string",
                                                         "pattern": KEY.pattern}})
    rate_limit: float | None = Field(None, gt=0, alias="rateLimit",
                                     description="Events per second accepted (sustained); "
                                                 "default SOULFRA_INGEST_RATE_LIMIT.")
    burst: int | None = Field(None, ge=1, description="Events accepted at once above the "
                                                      "rate; default SOULFRA_INGEST_BURST.")

    @field_validator("keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        for i, key in enumerate(keys):
            if not KEY.match(key):
                raise ValueError(f"[{i}] must be 16-64 letters, digits, - or _")
        return keys
