"""The alerting subsystem as the daemon sees it: configured from services.json and the
environment, fed by the bus, one delivery loop per channel, and a summary for the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from loguru import logger

from supervisor.alerts.acks import Acks
from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Answer, Channel, ChannelConfig
from supervisor.alerts.config import AlertsBase, alerts_model, infer_kind
from supervisor.alerts.delivery import Deliverer
from supervisor.alerts.digest import ReportSender
from supervisor.alerts.escalation import Escalations, step_applies
from supervisor.alerts.from_env import env_channels, fill_from_settings
from supervisor.alerts.leadership import (
    IncidentLeader,
    LocalLeader,
    LocalOutageLeader,
    OutageLeader,
)
from supervisor.alerts.lifecycle import EVENTS, Alerter
from supervisor.alerts.message import Alert, human_ms, new_alert_id
from supervisor.alerts.outbox import Outbox, Pending
from supervisor.alerts.own_outages import OUTAGE_EVENTS, OwnOutageAlerts
from supervisor.alerts.silences import Silences
from supervisor.clients.http import HttpClient
from supervisor.config.settings import Settings
from supervisor.core.events import EventBus
from supervisor.core.state import StateTracker
from supervisor.store.database import Store

ENV_CHANNEL = "default"


def build_channels(config: AlertsBase, settings: Settings | None,
                   http: HttpClient) -> dict[str, Channel]:
    """The configured channels, plus ERROR_WEBHOOK_URL as channel `default` when set."""
    channels: dict[str, Channel] = {}
    for cc in getattr(config, "channels", []):
        ch = registry.get(cc.type)(fill_from_settings(cc, settings), http)
        channels[ch.name] = ch
    url = settings.error_webhook_url if settings is not None else None
    if url is not None and url.get_secret_value():
        value = url.get_secret_value()
        if not any(c.config.url is not None and c.config.url.get_secret_value() == value
                   for c in channels.values()):
            wanted = settings.error_webhook_kind if settings is not None else "auto"
            kind = infer_kind(value) if wanted == "auto" else wanted
            cc = registry.get(kind).config_model.model_validate(
                {"type": kind, "name": ENV_CHANNEL, "url": value})
            channels.setdefault(ENV_CHANNEL, registry.get(kind)(cc, http))
    if settings is not None:
        for name, ch in env_channels(settings, set(channels), http).items():
            channels.setdefault(name, ch)
    return channels


def channel_config(cc: ChannelConfig) -> dict[str, Any]:
    """A channel's settings for the API: everything but its secrets."""
    return {"name": cc.name or cc.type, "type": cc.type, "minSeverity": str(cc.min_severity),
            "services": cc.services or None, "excludeServices": cc.exclude_services or None}


def quiet_holds(channels: dict[str, Channel], alert: Alert, names: list[str],
                now: float) -> dict[str, float]:
    """Channels in quiet hours, and when they end: non-critical alerts wait till then."""
    if alert.severity == "critical":
        return {}
    out = {}
    for name in names:
        ch = channels.get(name)
        quiet = ch.config.quiet_hours if ch is not None else None
        until = quiet.until(now) if quiet is not None else None
        if until is not None:
            out[name] = until
    return out


class AlertService:
    def __init__(self, store: Store, bus: EventBus, tracker: StateTracker,
                 settings: Settings, http: HttpClient, auto_recovery: bool = True) -> None:
        self.store = store
        self.http = http
        self.bus = bus
        self.tracker = tracker
        self.settings = settings
        self.auto_recovery = auto_recovery
        self.outbox = Outbox(store)
        self.silences = Silences(store)
        self.acks = Acks(store)
        self.escalations = Escalations(store)
        self.leader: IncidentLeader = LocalLeader()  # a cluster sets its own (daemon.py)
        # the daemon's own outages: a shared store sets its own (cluster/multihost.py)
        self.outage_leader: OutageLeader = LocalOutageLeader()
        self.alerter = Alerter(self)
        self.reports = ReportSender(store, tracker, self.outbox, self.alerter.send_now)
        self.config: Any = alerts_model()()
        self.channels: dict[str, Channel] = {}
        self.deliverers: dict[str, Deliverer] = {}
        self._started = False
        self._tick: asyncio.Task[None] | None = None

    def subscribe(self) -> None:
        self.bus.subscribe("alerts", self.alerter.on_event, types=EVENTS)
        self.bus.subscribe("alerts:own-outages",
                           OwnOutageAlerts(self.alerter, self.outage_leader).on_event,
                           types=OUTAGE_EVENTS)

    def configure(self, config: Any) -> None:
        """Apply `errorMonitoring.alerts` (at start and on reload)."""
        self.config = config
        self.silences.configure(config.silences, config.maintenance)
        self.escalations.configure(config.escalation)
        self.reports.configure(config.reports)
        self.channels = build_channels(config, self.settings, self.http) \
            if config.enabled else {}
        if self._started:
            asyncio.get_running_loop().create_task(self._restart_deliverers())

    async def start(self) -> None:
        await self.silences.load()
        await self.acks.load()
        await self.escalations.load()
        await self.alerter.resume()
        self._started = True
        await self._restart_deliverers()
        self._tick = asyncio.get_running_loop().create_task(self._ticker(), name="alerts:tick")
        names = ", ".join(f"{n} ({c.type_name})" for n, c in self.channels.items())
        logger.info("alerts: {}", names or "no channel configured")

    async def _restart_deliverers(self) -> None:
        old, self.deliverers = self.deliverers, {}
        for d in old.values():
            await d.stop()
        for name, ch in self.channels.items():
            d = Deliverer(ch, self.outbox, self.config.delivery, self.config.group_window / 1000,
                          self._settled)
            if name in old:
                d.health = old[name].health
            self.deliverers[name] = d
            d.start()

    async def _settled(self, channel: str, batch: list[Pending], answer: Answer,
                       outcome: str) -> None:
        """Tell the bus (metrics, the event stream): one `alert_delivery` per alert."""
        depth = await self.outbox.total()
        for p in batch:
            self.bus.publish("alert_delivery", p.alert.service, p.alert.correlation_id,
                             alert=p.alert.id, kind=p.alert.kind, channel=channel,
                             outcome=outcome, httpStatus=answer.status,
                             detail=answer.describe()[:300], outboxDepth=depth)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(1)
            try:
                await self.alerter.tick()
                await self.escalate()
                await self.reports.tick(self.channels)
            except Exception:
                logger.exception("alert timers failed")

    async def stop(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick
        for d in self.deliverers.values():
            await d.stop()

    # -- used by the alerter ----------------------------------------------------------------
    def route(self, alert: Alert) -> list[str]:
        held = self.escalations.held(alert)
        return [n for n, ch in self.channels.items() if ch.config.wants(alert) and n not in held]

    def quiet_holds(self, alert: Alert, channels: list[str]) -> dict[str, float]:
        return quiet_holds(self.channels, alert, channels, time.time())

    def ack_link(self, incident: str) -> str:
        base = self.config.public_url
        if not base or not incident:
            return ""
        return self.acks.link(base, incident, self.config.ack_link_ttl / 1000)

    # -- acknowledgement and escalation -----------------------------------------------------
    async def acknowledge(self, incident: str, by: str, via: str,
                          comment: str = "") -> tuple[dict[str, Any], bool] | None:
        """Someone is on it: reminders and escalation stop. None: no such incident."""
        inc = self.alerter.incidents.get(incident)
        service = inc.service if inc is not None else None
        if service is None:
            known = await self.outbox.incident_alerts(incident)
            if not known:
                return None
            service = known[0].service
        row, new = await self.acks.ack(incident, service, by, via, comment)
        if new:
            await self.escalations.stop(incident, "acknowledged")
            logger.bind(correlation_id=incident).info(
                "alerts: incident of {} acknowledged by {} ({})", service, row["by"], via)
            self.bus.publish("incident_acknowledged", service, incident, by=row["by"], via=via,
                             comment=row["comment"], at=round(row["at"] * 1000))
        return row, new

    async def escalate(self) -> None:
        """Steps that came due: the page again, to the step's channels."""
        for row, step in self.escalations.due():
            cid = row["incident_id"]
            st = self.tracker.services.get(row["service"])
            if self.acks.acked(cid):
                await self.escalations.stop(cid, "acknowledged")
                continue
            if st is None or not st.state.is_down or st.correlation_id != cid:
                await self.escalations.finish(cid, "recovered")
                continue
            reached: list[str] = []
            if step_applies(step, row["severity"]):
                page = Alert.from_dict(json.loads(row["alert"]))
                waited = human_ms((time.time() - row["started_at"]) * 1000)
                alert = replace(page, kind="escalated", id=new_alert_id(), at=time.time(),
                                event_at=None, state=str(st.state), ack_link=self.ack_link(cid),
                                summary=f"not acknowledged after {waited}: {page.summary}")
                reached = [n for n in step.channels
                           if n in self.channels and self.channels[n].config.wants(alert)]
                if self.silences.match(alert) is not None:
                    reached = []  # silenced meanwhile: the step passes without a message
                else:
                    await self.alerter.send_now(alert, reached)
                logger.bind(correlation_id=cid).info("alerts: {} escalated to {}", row["service"],
                                                     ", ".join(reached) or "no channel")
            await self.escalations.advance(row, reached)

    async def send(self, alert: Alert) -> None:
        """An alert of the cluster (a lapsed node): queued like any other when alerting is
        on; its "recovered" ends the escalation its "firing" began."""
        if not self.config.enabled:
            return
        await self.alerter.send(alert)
        if alert.kind == "recovered" and alert.correlation_id:
            await self.escalations.finish(alert.correlation_id, "recovered")

    def wake(self, channels: list[str]) -> None:
        for name in channels:
            d = self.deliverers.get(name)
            if d is not None:
                d.wake()

    def link(self, service: str, incident: str) -> str:
        base = self.config.public_url
        if not base:
            return ""
        return str(self.config.link_template.format(publicUrl=base.rstrip("/"),
                                                    service=quote(service),
                                                    incident=quote(incident or "")))

    # -- visibility -------------------------------------------------------------------------
    def delivery_status(self) -> str:
        """ok / degraded (a channel's last attempt failed) / disabled (no channel)."""
        if not self.deliverers:
            return "disabled"
        return "degraded" if any(d.health.failing for d in self.deliverers.values()) else "ok"

    async def summary(self) -> dict[str, Any]:
        depth = await self.outbox.depth()
        channels = {}
        for name, d in self.deliverers.items():
            channels[name] = {**channel_config(d.channel.config), **d.health.to_api(),
                              "outboxDepth": depth.get(name, {}).get("depth", 0)}
        errors = [(d.health.last_error_at, f"{n}: {d.health.last_error}")
                  for n, d in self.deliverers.items() if d.health.last_error_at]
        return {"delivery": self.delivery_status(),
                "outboxDepth": sum(v["depth"] for v in depth.values()),
                "lastDeliveryError": max(errors)[1] if errors else None,
                "channels": channels,
                "orphaned": {n: v["depth"] for n, v in depth.items() if n not in channels}
                or None}
