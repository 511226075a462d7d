"""Recurring maintenance windows: a cron expression, a time zone and a duration.

    "maintenance": [{"services": ["postgres"], "cron": "0 3 * * sun",
                     "timezone": "Europe/Berlin", "durationMs": 3600000,
                     "comment": "weekly vacuum"}]

Five fields (minute hour day month weekday, as crontab) or six (seconds first). APScheduler's
CronTrigger reads them, so daylight-saving changes fall where the zone says. A window is
"active" from each fire time for `durationMs`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

FIELDS = ("minute", "hour", "day", "month", "day_of_week")


def cron_trigger(expr: str, tz: str) -> CronTrigger:
    """ValueError with a message that names what is wrong."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r} (an IANA name such as Europe/Berlin)") \
            from None
    parts = expr.split()
    if len(parts) not in (5, 6):
        raise ValueError(f"cron {expr!r} has {len(parts)} fields; use 5 (minute hour day "
                         "month weekday) or 6 (seconds first)")
    names = ("second", *FIELDS) if len(parts) == 6 else FIELDS
    try:
        return CronTrigger(timezone=zone, **dict(zip(names, parts, strict=True)))
    except ValueError as exc:
        raise ValueError(f"cron {expr!r}: {exc}") from None


def active_window(trigger: CronTrigger, duration_s: float,
                  now: float) -> tuple[float, float] | None:
    """The [start, end) of the window that contains `now`, if any."""
    at = datetime.fromtimestamp(now, UTC)
    start = trigger.get_next_fire_time(None, at - timedelta(seconds=duration_s))
    if start is None or start > at:
        return None
    begin = start.timestamp()
    return begin, begin + duration_s


def next_start(trigger: CronTrigger, now: float) -> float | None:
    fire = trigger.get_next_fire_time(None, datetime.fromtimestamp(now, UTC))
    return None if fire is None else fire.timestamp()
