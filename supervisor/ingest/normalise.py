"""From a Sentry event to the daemon's error row: message, classification, group
fingerprint, and a bounded context (exception chain with frames, breadcrumbs, tags, request,
user, release, trace) for the error's page.

Grouping follows Sentry: the SDK's `fingerprint` when it sends one (`{{ default }}` stands for
the default); else the exception types with their in-app frames (module and function, never
line numbers, so an edit above the failing line keeps the group); else the normalised message
(for a log message, its template before formatting).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supervisor.core.incidents import error_row
from supervisor.core.reported_taxonomy import classify_reported
from supervisor.core.taxonomy import Classification, normalise_message
from supervisor.ingest.limits import IngestError
from supervisor.ingest.scrub import scrub, scrub_text

MAX_FRAMES = 50  # per exception, the innermost kept (where it failed)
MAX_BREADCRUMBS = 100
MAX_STRING = 4096
MAX_CHAIN = 10
_EVENT_ID = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F-]{36}$")
_HASHY = re.compile(r"[0-9a-f]{8,}|\d+")


@dataclass(slots=True)
class Normalised:
    event_id: str
    row: dict[str, Any]  # for the store
    fingerprint: str
    unhandled: bool
    label: str  # "TypeError: x is undefined"
    frame: str  # the top in-app frame, "worker.js in tick"
    release: str | None
    trace_id: str | None


def _text(value: Any, limit: int = MAX_STRING) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _values(container: Any) -> list[Any]:
    """Sentry accepts {"values": [...]} or a bare list (or one object) in several places."""
    if isinstance(container, dict):
        container = container.get("values", [container] if container else [])
    return [v for v in container if isinstance(v, dict)] if isinstance(container, list) else []


def _frames(exc: dict[str, Any]) -> list[dict[str, Any]]:
    st = exc.get("stacktrace")
    frames = st.get("frames") if isinstance(st, dict) else None
    return [f for f in frames if isinstance(f, dict)] if isinstance(frames, list) else []


def _where(frame: dict[str, Any]) -> str:
    module = frame.get("module")
    if not isinstance(module, str) or not module:
        filename = _text(frame.get("filename") or frame.get("abs_path") or "?", 300)
        module = filename.rsplit("/", 1)[-1]
    return f"{module} in {_text(frame.get('function') or '?', 200)}"


def _grouping_frames(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    in_app = [f for f in frames if f.get("in_app") is True]
    return in_app or [f for f in frames if f.get("in_app") is not False] or frames


def _default_components(chain: list[dict[str, Any]], message: str) -> list[str]:
    parts: list[str] = []
    for exc in chain:
        parts.append(_text(exc.get("type") or "Error", 200))
        frames = _grouping_frames(_frames(exc))
        if frames:
            parts.extend(_where(f) for f in frames[-MAX_FRAMES:])
        else:
            parts.append(normalise_message(_text(exc.get("value"), 1000)))
    if not chain:
        parts.append(normalise_message(message))
    return parts


def group_fingerprint(service: str, event: dict[str, Any], chain: list[dict[str, Any]],
                      template: str) -> str:
    default = _default_components(chain, template)
    sent = event.get("fingerprint")
    parts: list[str]
    if isinstance(sent, list) and sent and all(isinstance(p, str | int | float) for p in sent):
        parts = []
        for p in sent:
            parts.extend(default if p == "{{ default }}" else [str(p)[:500]])
    else:
        parts = default
    key = "\x1f".join([service, "sdk", *parts])
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _message(event: dict[str, Any]) -> tuple[str, str]:
    """(the message as shown, the template it was formatted from)."""
    logentry = event.get("logentry") or event.get("sentry.interfaces.Message")
    if isinstance(logentry, dict):
        template = _text(logentry.get("message") or logentry.get("formatted"))
        return _text(logentry.get("formatted") or template), template
    msg = event.get("message")
    if isinstance(msg, dict):
        template = _text(msg.get("message") or msg.get("formatted"))
        return _text(msg.get("formatted") or template), template
    if isinstance(msg, str):
        return _text(msg), _text(msg)
    return "", ""


def _validate(event: dict[str, Any]) -> None:
    """The fields whose wrong shape would make the event unreadable: 400 naming them."""
    event_id = event.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not _EVENT_ID.match(event_id)):
        raise IngestError(400, "event_id must be 32 hex characters", "malformed")
    for name in ("level", "release", "environment", "platform", "logger", "transaction"):
        if event.get(name) is not None and not isinstance(event.get(name), str):
            raise IngestError(400, f"{name} must be a string", "malformed")
    exc = event.get("exception")
    if exc is not None and not isinstance(exc, dict | list):
        raise IngestError(400, "exception must be an object with values", "malformed")
    ts = event.get("timestamp")
    if ts is not None and not isinstance(ts, int | float):
        if not isinstance(ts, str):
            raise IngestError(400, "timestamp must be a number or an RFC 3339 string",
                              "malformed")
        try:
            datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            raise IngestError(400, "timestamp must be a number or an RFC 3339 string",
                              "malformed") from None


def _slim_exception(exc: dict[str, Any]) -> dict[str, Any]:
    frames = _frames(exc)[-MAX_FRAMES:]
    mech = exc.get("mechanism") if isinstance(exc.get("mechanism"), dict) else {}
    return {
        "type": _text(exc.get("type"), 200), "value": _text(exc.get("value")),
        "module": _text(exc.get("module"), 200) or None,
        "mechanism": {"type": mech.get("type"), "handled": mech.get("handled")} if mech else None,
        "frames": [{k: (_text(f.get(k), 1000) if isinstance(f.get(k), str) else f.get(k))
                    for k in ("filename", "abs_path", "module", "function", "lineno", "colno",
                              "in_app", "context_line", "vars") if f.get(k) is not None}
                   for f in frames],
    }


def _trace(event: dict[str, Any]) -> dict[str, Any] | None:
    contexts = event.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    if not isinstance(trace, dict):
        return None
    return {k: _text(trace.get(k), 64) for k in ("trace_id", "span_id", "parent_span_id", "op")
            if trace.get(k)}


def normalise_event(event: dict[str, Any], service: str, received_at: float,
                    source: str = "sdk", keep: Callable[[str], bool] | None = None
                    ) -> Normalised:
    """Validate, classify and group one event as the SDK sent it; IngestError(400) when
    unusable. Grouping and classification read the raw event (they keep nothing of it);
    what is kept is scrubbed. `keep(fingerprint)` decides whether the event is stored in
    full: when it says no (sampled out) the event is only counted, and the costly walk over
    the whole event is spared — what keeps a storm of one error cheap."""
    _validate(event)
    chain = _values(event.get("exception"))[-MAX_CHAIN:]
    message, template = _message(event)
    outer = chain[-1] if chain else None  # Sentry lists the chain innermost-cause first
    mech = outer.get("mechanism") if outer is not None else None
    unhandled = isinstance(mech, dict) and mech.get("handled") is False
    level = event.get("level") or ("fatal" if unhandled else "error")
    names = [(_text(e.get("type"), 200) or None, _text(e.get("module"), 200) or None,
              _text(e.get("value"))) for e in reversed(chain)]
    c: Classification = classify_reported(names, level=level, unhandled=unhandled,
                                          message=message)
    fp = group_fingerprint(service, event, chain, template or _label(outer, mech, message))
    event_id = str(event.get("event_id") or uuid.uuid4().hex).replace("-", "").lower()
    release = _text(event.get("release"), 200) or None
    if keep is not None and not keep(fp):
        label = scrub_text(_label(outer, mech, message))
        frame = scrub_text(_top_frame(chain))
        row = {"id": None, "created_at": received_at, "service": service, "type": c.type,
               "category": str(c.category), "level": str(c.level),
               "severity": str(c.severity), "message": label, "fingerprint": fp,
               "release": release, "source": source, "correlation_id": None,
               "check_name": None}
        return Normalised(event_id, row, fp, unhandled, label, frame, release, None)
    event = scrub(event)
    chain = _values(event.get("exception"))[-MAX_CHAIN:]
    outer = chain[-1] if chain else None
    message, _ = _message(event)
    label, frame = _label(outer, mech, message), _top_frame(chain)
    trace = _trace(event)
    crumbs = _values(event.get("breadcrumbs"))[-MAX_BREADCRUMBS:]
    context = {
        "eventId": event_id, "source": source, "level": level, "unhandled": unhandled,
        "logMessage": message if outer is not None and message else None,
        "exceptions": [_slim_exception(e) for e in chain], "topFrame": frame or None,
        "breadcrumbs": crumbs, "tags": event.get("tags") or {},
        "contexts": event.get("contexts") or {}, "request": event.get("request"),
        "user": event.get("user"), "extra": event.get("extra") or {},
        "logger": event.get("logger"), "transaction": event.get("transaction"),
        "platform": event.get("platform"), "sdk": event.get("sdk"), "trace": trace,
        "timestamp": event.get("timestamp"), "fingerprintSent": event.get("fingerprint"),
    }
    env = {"release": release, "environment": _text(event.get("environment"), 200) or None,
           "serverName": _text(event.get("server_name"), 200) or None}
    row = error_row(c, service, label, correlation_id=trace.get("trace_id") if trace else None,
                    context=context, at=received_at, env=env, source=source, scrubbed=True)
    row["fingerprint"] = fp
    if release:
        row["release"] = release
    return Normalised(event_id, row, fp, unhandled, label, frame, release,
                      trace.get("trace_id") if trace else None)


def _label(outer: dict[str, Any] | None, mech: Any, message: str) -> str:
    """The title: the outermost exception's type and value, else the message."""
    synthetic = isinstance(mech, dict) and mech.get("synthetic") is True
    if outer is not None and synthetic and message:
        return message  # captureMessage with a stack attached: the message is the title
    if outer is not None:
        label = _text(outer.get("type") or "Error", 200)
        if outer.get("value"):
            label += f": {_text(outer.get('value'), 2000)}"
        return label
    return message or "<no message>"


def _top_frame(chain: list[dict[str, Any]]) -> str:
    """The innermost in-app frame of the outermost exception that has frames."""
    for exc in reversed(chain):
        frames = [f for f in _frames(exc) if f.get("in_app") is True] or _frames(exc)
        if frames:
            frame = _where(frames[-1])
            if frames[-1].get("lineno") is not None:
                frame += f":{frames[-1].get('lineno')}"
            return frame
    return ""
