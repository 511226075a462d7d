"""Acknowledging an incident: POST /api/monitoring/incidents/{id}/ack (API token, or the signed
link of a message), GET the same path for its state (or, with the link's `sig`, a page with
one button: following a link acknowledges nothing by itself)."""

from __future__ import annotations

import html
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from supervisor.alerts.acks import ack_to_api
from supervisor.api.context import DAEMON, json_error
from supervisor.api.csrf import cross_site_allowed_if
from supervisor.api.params import read_body

routes = web.RouteTableDef()


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field("", max_length=200, description="Who is on it (default: the channel of "
                                                    "the request)")
    comment: str = Field("", max_length=2000)
    via: Literal["api", "cli", "dashboard"] = "api"


def _page(title: str, text: str, form: str = "", status: int = 200) -> web.Response:
    return web.Response(status=status, content_type="text/html", text=(
        "<!DOCTYPE html><html><head><meta charset=utf-8><meta name=viewport "
        "content='width=device-width'><title>soulfra-supervisor</title></head>"
        "<body style='font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em'>"
        f"<h1 style='font-size:1.3em'>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        f"{form}</body></html>"))


@routes.get("/api/monitoring/incidents/{id}/ack")
async def ack_state(request: web.Request) -> web.StreamResponse:
    alerts = request.app[DAEMON].alerts
    cid = request.match_info["id"]
    sig = request.query.get("sig")
    if sig is None:
        return web.json_response({**ack_to_api(alerts.acks.get(cid), cid),
                                  "escalation": alerts.escalations.to_api(cid)})
    problem = alerts.acks.check(cid, sig)
    if problem is not None:
        return _page("Cannot acknowledge", problem, status=403)
    row = alerts.acks.get(cid)
    if row is not None:
        return _page("Already acknowledged",
                     f"Incident {cid} was acknowledged by {row['by'] or 'someone'} "
                     f"({row['via']}).")
    action = html.escape(f"{request.path}?sig={sig}", quote=True)
    form = (f"<form method=post action='{action}'><label>Your name "
            "<input name=by maxlength=200></label> <button type=submit>Acknowledge</button>"
            "</form>")
    return _page(f"Acknowledge incident {cid}?",
                 "Reminders and escalation stop; the recovered message still goes out.", form)


# The link of a message is posted from wherever the mail was read; its signature (single use,
# expiring) is what no other site can forge. Without `sig` it is a mutation like any other.
@cross_site_allowed_if(lambda request: "sig" in request.query)
@routes.post("/api/monitoring/incidents/{id}/ack")
async def acknowledge(request: web.Request) -> web.StreamResponse:
    alerts = request.app[DAEMON].alerts
    cid = request.match_info["id"]
    sig = request.query.get("sig")
    if sig is not None:  # the link of a message; the API token middleware let it through
        problem = alerts.acks.check(cid, sig)
        if problem is not None:
            return _page("Cannot acknowledge", problem, status=403)
        form = await request.post() if request.content_type.endswith("form-urlencoded") \
            else {}
        by = str(form.get("by", "")).strip()[:200]
        if not await alerts.acks.spend(cid, sig):
            return _page("Link already used", "This acknowledgement link was used already; "
                         "each link works once.", status=410)
        result = await alerts.acknowledge(cid, by or "link", "link")
        if result is None:
            return _page("Unknown incident", f"No incident {cid}.", status=404)
        row, _ = result
        return _page("Acknowledged", f"Incident {cid} is acknowledged by {row['by']}. "
                     "Reminders and escalation stop.")
    body = await read_body(request, AckBody, optional=True)
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, AckBody)
    result = await alerts.acknowledge(cid, body.by or body.via, body.via, body.comment)
    if result is None:
        return json_error(404, f"no incident {cid!r} (an incident id is the correlationId of "
                               "its alerts)")
    row, new = result
    return web.json_response({**ack_to_api(row, cid), "alreadyAcknowledged": not new})
