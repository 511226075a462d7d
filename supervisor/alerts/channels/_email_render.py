"""An alert as a mail: subject, a plain-text part and a readable HTML part, and the headers
that thread an incident's mails together.

Threading: the incident's first paging mail (firing, or gave up when that came first) has the
Message-ID `<CID.KIND@DOMAIN>`, derived from the incident alone, so a later mail (reminder,
gave up, recovered) can name it in In-Reply-To and References without remembering anything,
even after a restart of the daemon. Every other mail has its own `<ALERT_ID@DOMAIN>`.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import formatdate

from supervisor.alerts.message import Alert, clip

SUBJECT_CHARS = 200


def _domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">")
    return address.rpartition("@")[2] or "soulfra-supervisor.invalid"


def thread_root(alert: Alert, domain: str) -> str | None:
    """The Message-ID of the incident's first paging mail (None: not part of a thread)."""
    if not alert.correlation_id or not alert.opened_by:
        return None
    return f"<{alert.correlation_id}.{alert.opened_by}@{domain}>"


def message_id(alert: Alert, domain: str) -> str:
    root = thread_root(alert, domain)
    if root is not None and alert.kind == alert.opened_by:
        return root
    return f"<{alert.id}@{domain}>"


def build_mail(alerts: list[Alert], sender: str, to: list[str], prefix: str = "") -> EmailMessage:
    """One mail for the alerts of one incident (oldest first), threaded under its first page."""
    domain = _domain(sender)
    first, last = alerts[0], alerts[-1]
    msg = EmailMessage()
    subject = last.title if len(alerts) == 1 else \
        f"{last.title} (+{len(alerts) - 1} earlier change{'s' if len(alerts) > 2 else ''})"
    msg["Subject"] = clip(f"{prefix}{subject}".replace("\n", " "), SUBJECT_CHARS)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(last.at, usegmt=True)
    msg["Message-ID"] = message_id(first, domain)
    root = thread_root(first, domain)
    if root is not None and root != msg["Message-ID"]:
        msg["In-Reply-To"] = root
        msg["References"] = root
    msg["X-Soulfra-Alert"] = ", ".join(a.id for a in alerts)
    if first.correlation_id:
        msg["X-Soulfra-Incident"] = first.correlation_id
    if first.event_at:  # when the state change behind it happened (epoch ms), as in webhooks
        msg["X-Soulfra-Event-At"] = str(round(first.event_at * 1000))
    if any(a.severity == "critical" for a in alerts):
        msg["X-Priority"] = "1"
        msg["Importance"] = "high"
    msg.set_content("\n\n".join(a.plain_text() for a in reversed(alerts)) + "\n")
    msg.add_alternative(render_html(list(reversed(alerts))), subtype="html")
    return msg


def render_html(alerts: list[Alert]) -> str:
    """Newest first; plain inline styles, since mail clients drop <style> and scripts."""
    body = "".join(_alert_html(a) for a in alerts)
    return ("<!DOCTYPE html><html><body style=\"margin:0;padding:16px;background:#f4f5f7;"
            "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328\">"
            f"{body}<p style=\"color:#6a737d;font-size:12px\">sent by soulfra-supervisor</p>"
            "</body></html>")


def _alert_html(a: Alert) -> str:
    e = html.escape
    colour = f"#{a.colour:06x}"
    rows = "".join(f"<tr><td style=\"padding:2px 12px 2px 0;color:#6a737d\">{e(k)}</td>"
                   f"<td style=\"padding:2px 0\">{e(v)}</td></tr>" for k, v in a.facts())
    parts = [f"<h2 style=\"margin:0 0 8px;font-size:18px\">{e(a.title)}</h2>"]
    if a.detail:
        parts.append(f"<pre style=\"white-space:pre-wrap;background:#f6f8fa;padding:8px;"
                     f"border-radius:4px;font-size:13px\">{e(a.detail)}</pre>")
    if rows:
        parts.append(f"<table style=\"border-collapse:collapse;font-size:14px\">{rows}</table>")
    rec = a.recovery_lines()
    if rec:
        items = "".join(f"<li>{e(r)}</li>" for r in rec)
        parts.append(f"<h3 style=\"margin:12px 0 4px;font-size:14px\">Recovery</h3>"
                     f"<ul style=\"margin:0;padding-left:20px;font-size:14px\">{items}</ul>")
    buttons = []
    if a.link:
        buttons.append(_button(a.link, "Open in dashboard", "#0969da"))
    if a.ack_link:
        buttons.append(_button(a.ack_link, "Acknowledge", "#1a7f37"))
    if buttons:
        parts.append(f"<p style=\"margin:16px 0 0\">{' '.join(buttons)}</p>")
    footer = " · ".join(x for x in (f"incident {a.correlation_id}" if a.correlation_id else "",
                                    a.iso_time) if x)
    parts.append(f"<p style=\"margin:12px 0 0;color:#6a737d;font-size:12px\">{e(footer)}</p>")
    return (f"<div style=\"background:#fff;border-left:6px solid {colour};border-radius:4px;"
            f"padding:16px;margin:0 0 16px\">{''.join(parts)}</div>")


def _button(url: str, text: str, colour: str) -> str:
    return (f"<a href=\"{html.escape(url, quote=True)}\" style=\"display:inline-block;"
            f"background:{colour};color:#fff;padding:8px 14px;border-radius:4px;"
            f"text-decoration:none;font-size:14px\">{html.escape(text)}</a>")
