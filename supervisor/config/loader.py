"""Reading services.json: strict decoding, validation against the models, defaults from the
environment, relative paths anchored at the file, and problems that name their JSON path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

import health_checks
import recovery_strategies
from supervisor.alerts.config import channel_kinds
from supervisor.config.services import MAX_DEPTH, ConfigError, models
from supervisor.config.settings import Settings
from supervisor.core.strict_json import JSONProblem, decode, shorten
from supervisor.processes.spec import ProcessSpec

_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "too_short": "must have at least {min_length} item(s)",
}


def _path(loc: tuple[Any, ...], tags: set[str]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in tags and i > 0 and isinstance(loc[i - 1], int):
            continue  # pydantic inserts the union tag after a list index; readers don't need it
        elif part in ("function-after", "function-before"):
            continue
        else:
            out += ("." if out else "") + shorten(str(part))
    return out


def format_errors(exc: ValidationError) -> list[str]:
    tags = (set(health_checks.registry.names()) | set(recovery_strategies.registry.names())
            | set(channel_kinds()))
    problems = []
    for err in exc.errors():
        template = _MESSAGES.get(err["type"])
        ctx = {k: (f"{v:g}" if isinstance(v, float) else v)
               for k, v in (err.get("ctx") or {}).items()}
        if template:
            msg = template.format(**ctx)
        elif err["type"] == "union_tag_invalid":
            msg = (f"unknown {ctx.get('discriminator', 'type').strip(chr(39))} "
                   f"{ctx.get('tag')!r}; known: {ctx.get('expected_tags')}")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        path = _path(tuple(err["loc"]), tags)
        if msg.startswith("services.") and ": " in msg:  # a whole-file check naming its field
            sub, msg = msg.split(": ", 1)
            path = f"{path}.{sub}" if path else sub
        problems.append(f"{path}: {msg}" if path else msg)
    return problems


def _anchor_paths(svc: Any, base_dir: Path) -> None:
    """Relative paths of process specs are relative to the services.json that names them."""
    specs = [svc.restart, *(s for s in svc.ladder if isinstance(s, ProcessSpec))]
    for spec in specs:
        if spec is None:
            continue
        spec.cwd = str(base_dir / spec.cwd) if spec.cwd else str(base_dir)
        if spec.pid_file and not Path(spec.pid_file).is_absolute():
            spec.pid_file = str(base_dir / spec.pid_file)


def parse_config(data: Any, settings: Settings | None = None,
                 source: str = "services.json", base_dir: Path | None = None,
                 strict: bool | None = None) -> Any:
    """Validate a decoded services.json and fill defaults from the environment. `strict=False`
    for sources whose values are all strings (container labels): "8080" may mean 8080 there."""
    _, file_model = models()
    try:
        parsed = file_model.model_validate(data, strict=strict)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc), source) from None
    settings = settings or Settings()
    em = parsed.error_monitoring  # type: ignore[attr-defined]  # the model is built at run time
    if "max_attempts" not in em.recovery.model_fields_set:
        em.recovery.max_attempts = settings.max_recovery_attempts
    for svc in em.services.values():
        if svc.interval is None:
            svc.interval = settings.health_check_interval
        _anchor_paths(svc, (base_dir or Path.cwd()).resolve())
    return parsed


def load_config(path: str | Path, settings: Settings | None = None) -> Any:
    """Read and validate a services.json file; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror or exc}"], str(path)) from None
    return config_from_text(raw, path, settings)


def config_from_text(raw: bytes | str, path: Path, settings: Settings | None = None) -> Any:
    """Validate the bytes of a services.json read from `path` (which anchors relative paths).

    Decoded by supervisor.core.strict_json: UTF-8 (a byte order mark is allowed), no duplicate keys
    (a second `errorMonitoring` would otherwise replace the first), nesting and numbers
    bounded; each refusal names its JSON path.
    """
    try:
        data = decode(raw, what="the file", max_depth=MAX_DEPTH)
    except JSONProblem as exc:
        raise ConfigError([str(exc)], str(path)) from None
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}.get(
            type(data), "a number")
        raise ConfigError([f"the file must hold a JSON object "
                           f'{{"errorMonitoring": {{...}}}}, not {kind}'], str(path))
    return parse_config(data, settings, str(path), path.parent)
