"""The ingest pipeline the daemon owns: from a request's raw parts to stored, counted errors.

HTTP stays in the route (supervisor/api/routes/ingest.py); this module decides. CPU-heavy
steps (inflate, parse, scrub, normalise) of a large body run in a worker thread so that a
10 MB envelope never stalls the event loop and the checks on it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from loguru import logger

from supervisor.core.error_rates import ErrorRates
from supervisor.core.events import EventBus
from supervisor.core.incidents import error_to_api
from supervisor.ingest.auth import sent_key
from supervisor.ingest.budget import Budgets, Sampler
from supervisor.ingest.check_ins import CheckIns, JobBoard, parse_check_in
from supervisor.ingest.config import ErrorReportingConfig
from supervisor.ingest.envelope import Envelope, Item, event_from_json, parse_envelope
from supervisor.ingest.keys import KeyRing, new_key
from supervisor.ingest.limits import IngestError, Limits
from supervisor.ingest.normalise import Normalised, normalise_event
from supervisor.ingest.notices import Notices
from supervisor.ingest.scrub import scrub
from supervisor.ingest.transactions import Transaction, Transactions, parse_transaction

if TYPE_CHECKING:
    from supervisor.config.settings import Settings
    from supervisor.store.database import Store

T = TypeVar("T")
OFFLOAD_BYTES = 256 * 1024  # bodies larger than this are worked on in a thread
EVENT_TYPES = frozenset({"event"})
# Item types that are accepted and counted (not errors of the service).
COUNTED_TYPES = frozenset({"transaction", "check_in", "session", "sessions", "client_report",
                           "attachment", "profile", "profile_chunk", "replay_event",
                           "replay_recording", "replay_video", "statsd", "metric_buckets",
                           "span", "log", "otel_log", "feedback", "user_report", "security"})
# Names in /status that the redaction (which masks keys named like "session") leaves alone.
_ITEM_NAMES = {"session": "releaseHealth", "sessions": "releaseHealthAggregates"}


@dataclass(slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Prepared:
    events: list[Normalised]
    problems: list[str]
    worst: int  # the status of the worst problem (400 or 413), 0 if none
    counted: Counter[str]
    rejected: Counter[str] = field(default_factory=Counter)
    transactions: list[Transaction] = field(default_factory=list)
    check_ins: list[dict[str, Any]] = field(default_factory=list)


class Ingestor:
    def __init__(self, store: Store, bus: EventBus, rates: ErrorRates,
                 settings: Settings, board: JobBoard) -> None:
        self.store = store
        self.bus = bus
        self.rates = rates
        self.limits = Limits(settings.ingest_max_body_bytes,
                             settings.ingest_max_decompressed_bytes,
                             settings.ingest_max_event_bytes)
        self.keys = KeyRing()
        self.budgets = Budgets(settings.ingest_rate_limit, settings.ingest_burst)
        self.sampler = Sampler(settings.ingest_sample_first, settings.ingest_sample_every_s)
        self.cors_origins = frozenset(o.strip().rstrip("/") for o in
                                      settings.ingest_cors_origins.split(",") if o.strip())
        self.public_url = settings.ingest_public_url
        self.transactions = Transactions(settings.ingest_slow_query_ms)
        self.check_ins = CheckIns(board)
        self.notices = Notices(store, bus, rates, settings.ingest_spike_per_minute)
        self.stats: Counter[str] = Counter()

    # -- configuration ----------------------------------------------------------------------
    async def configure(self, services: Mapping[str, Any]) -> None:
        """At start and on reload: project ids, keys and budgets of the enabled services."""
        cfgs = {name: getattr(svc, "error_reporting", None) or
                ErrorReportingConfig.model_validate({}) for name, svc in services.items()}
        await self.store.run(lambda conn: self.keys.sync(conn, cfgs))
        for name, cfg in cfgs.items():
            self.budgets.configure(name, cfg.rate_limit, cfg.burst)

    def dsn(self, service: str, api_url: str) -> dict[str, Any]:
        return self.keys.dsn(service, self.public_url or api_url)

    async def rotate(self, service: str) -> str:
        self.keys.check_rotatable(service)
        key = new_key()
        await self.store.run(lambda conn: self.keys.store_rotation(conn, service, key))
        self.keys.apply_rotation(service, key)
        logger.info("ingest: {}'s key rotated; the old one is refused from now on", service)
        return key

    def allowed_origin(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if "*" in self.cors_origins:
            return origin
        return origin if origin.rstrip("/") in self.cors_origins else None

    # -- requests ---------------------------------------------------------------------------
    async def envelope(self, project_id: int, headers: Mapping[str, str],
                       query: Mapping[str, str], body: bytes) -> Answer:
        """POST /api/{project_id}/envelope/."""
        try:
            key = sent_key(headers, query)
            if key is not None:  # refuse a wrong key before inflating anything
                self.keys.resolve(key, project_id)
            env = await self._offload(len(body), parse_envelope, body, self.limits.max_items)
            service = self.keys.resolve(key or sent_key({}, {}, env.headers), project_id)
            self._admit(service, sum(1 for i in env.items if i.type in EVENT_TYPES))
            received = time.time()
            prepared = await self._offload(len(body), self._prepare_envelope, env, service,
                                           received)
        except IngestError as exc:
            return self.refuse(exc)
        return self._finish(service, prepared, env.headers.get("event_id"))

    async def store_endpoint(self, project_id: int, headers: Mapping[str, str],
                             query: Mapping[str, str], body: bytes) -> Answer:
        """POST /api/{project_id}/store/: one event as JSON (the older protocol)."""
        try:
            service = self.keys.resolve(sent_key(headers, query), project_id)
            self._admit(service, 1)
            received = time.time()
            prepared = await self._offload(len(body), self._prepare_store, body, service,
                                           received)
        except IngestError as exc:
            return self.refuse(exc)
        return self._finish(service, prepared, None)

    def report(self, service: str, event: dict[str, Any], source: str,
               override: dict[str, str] | None = None) -> Normalised:
        """One error from POST /api/monitoring/errors, already in Sentry's event shape;
        `override` holds what the report said itself (category, severity, level, type)."""
        n = normalise_event(event, service, time.time(), source, keep=self.sampler.keep)
        if override:
            if "category" in override and "type" not in override:
                override["type"] = override["category"].lower()
            n.row.update(override)
        self._accept(service, n)
        return n

    # -- steps ------------------------------------------------------------------------------
    def _admit(self, service: str, events: int) -> None:
        """The service's budget, and the store's backlog: refuse (429) rather than lose."""
        wait = self.budgets.take(service, events)
        if wait:
            self.stats["rate_limited"] += events
            secs = str(int(wait))
            raise IngestError(429, f"{service} is over its budget of "
                                   f"{self.budgets.rate:g} events/s; retry in {secs} s",
                              "rate_limited", {"Retry-After": secs,
                                               "X-Sentry-Rate-Limits": f"{secs}::key"})
        writes = self.store.writes
        if events and writes.pending > writes.max_pending // 2:
            self.stats["backlog"] += events
            raise IngestError(429, "the store is behind; retry in 1 s", "backlog",
                              {"Retry-After": "1", "X-Sentry-Rate-Limits": "1::organization"})

    def _prepare_envelope(self, env: Envelope, service: str, received: float) -> _Prepared:
        p = _Prepared([], list(env.problems), 400 if env.problems else 0, Counter())
        for item in env.items:
            p.counted[item.type if item.type in COUNTED_TYPES | EVENT_TYPES else "other"] += 1
            if item.type not in EVENT_TYPES:
                self._prepare_other(item, service, p)
                continue
            try:
                if len(item.payload) > self.limits.max_event:
                    raise IngestError(413, f"event larger than {self.limits.max_event} bytes",
                                      "too_large")
                p.events.append(normalise_event(event_from_json(item.payload), service,
                                                received, keep=self.sampler.keep))
            except IngestError as exc:
                p.problems.append(f"item {item.type}: {exc.reason}")
                p.worst = max(p.worst, exc.status)
                p.rejected[exc.counted_as] += 1  # counted on the loop (this may be a thread)
        return p

    def _prepare_other(self, item: Item, service: str, p: _Prepared) -> None:
        """Transactions, check-ins, client reports; the rest is only counted."""
        try:
            if item.type == "client_report":
                p.counted["client_dropped"] += _dropped(item.payload)
            elif item.type == "transaction" and len(item.payload) <= self.limits.max_event:
                t = parse_transaction(scrub(event_from_json(item.payload)), service,
                                      self.transactions.slow_query_ms)
                if t is not None:
                    p.transactions.append(t)
            elif item.type == "check_in":
                p.check_ins.append(parse_check_in(event_from_json(item.payload)))
        except IngestError as exc:
            p.problems.append(f"item {item.type}: {exc.reason}")
            p.rejected[exc.counted_as] += 1

    def _prepare_store(self, body: bytes, service: str, received: float) -> _Prepared:
        if len(body) > self.limits.max_event:
            raise IngestError(413, f"event larger than {self.limits.max_event} bytes",
                              "too_large")
        n = normalise_event(event_from_json(body), service, received, keep=self.sampler.keep)
        return _Prepared([n], [], 0, Counter({"event": 1}))

    def _finish(self, service: str, p: _Prepared, envelope_id: Any) -> Answer:
        for n in p.events:
            self._accept(service, n)
        for t in p.transactions:
            self.transactions.add(t)
        for c in p.check_ins:
            self.check_ins.apply(service, c)
        for kind, count in p.counted.items():
            self.stats[f"items.{kind}"] += count
        for reason, count in p.rejected.items():
            self.stats[f"rejected.{reason}"] += count
        if p.problems and not (p.events or p.transactions or p.check_ins) and p.worst:
            self.stats["rejected.requests"] += 1
            return Answer(p.worst, {"detail": "; ".join(p.problems)[:2000],
                                    "problems": p.problems[:50]})
        event_id = envelope_id if isinstance(envelope_id, str) else (
            p.events[0].event_id if p.events else None)
        body: dict[str, Any] = {"id": event_id}
        if p.problems:
            body["problems"] = p.problems[:50]
        return Answer(200, body)

    def _accept(self, service: str, n: Normalised) -> None:
        row = n.row
        self.rates.record(service, n.fingerprint, unhandled=n.unhandled, label=n.label,
                          frame=n.frame, category=row["category"])
        self.stats["accepted"] += 1
        if row["id"] is not None:
            self.store.submit_error(row)
            self.stats["stored"] += 1
        else:  # sampled out (normalise_event asked the sampler): counted in its group
            self.store.submit_seen(row)
            self.stats["sampled_out"] += 1
        self.notices.seen(row, n.frame)
        self.bus.publish("error_recorded", service, row.get("correlation_id"),
                         error=error_to_api({**row, "recovered": 0, "recovery_time_ms": None,
                                             "status": "pending", "check_name": None}),
                         stored=row["id"] is not None)

    def count_rejected(self, reason: str) -> None:
        self.stats[f"rejected.{reason}"] += 1

    def refuse(self, exc: IngestError) -> Answer:
        self.stats[f"rejected.{exc.counted_as}"] += 1
        return Answer(exc.status, {"detail": exc.reason}, dict(exc.headers))

    async def _offload(self, size: int, fn: Callable[..., T], *args: Any) -> T:
        if size > OFFLOAD_BYTES:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    def summary(self) -> dict[str, Any]:
        """For GET /api/monitoring/status → ingest."""
        rejected = {k.removeprefix("rejected."): v for k, v in self.stats.items()
                    if k.startswith("rejected.")}
        return {"accepted": self.stats["accepted"], "stored": self.stats["stored"],
                "sampledOut": self.stats["sampled_out"],
                "rateLimited": self.stats["rate_limited"], "backlog": self.stats["backlog"],
                "rejected": rejected, "auth": dict(self.keys.rejected),
                "items": {_ITEM_NAMES.get(k[6:], k[6:]): v for k, v in self.stats.items()
                          if k.startswith("items.")},
                "projects": len(self.keys.project_of),
                "transactions": self.transactions.total, "checkIns": self.check_ins.to_dict(),
                "noticesHeld": self.notices.held}


def _dropped(payload: bytes) -> int:
    """How many events an SDK says it dropped (client_report.discarded_events)."""
    try:
        report = event_from_json(payload)
    except IngestError:
        return 0
    total = 0
    for d in report.get("discarded_events") or []:
        if isinstance(d, dict) and isinstance(d.get("quantity"), int):
            total += d["quantity"]
    return total
