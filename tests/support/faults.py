"""Timing of fault detection: how long after a real fault a check names it.

Tests print one `DETECTION <what>: <ms> ms (<kind>)` line each (run pytest with -s to see them);
bench/detection.py collects the same numbers. Assertions on these times stay loose.
"""

from __future__ import annotations

import asyncio
import time

from health_checks.base import CheckKind, CheckResult, HealthCheck


async def time_until(check: HealthCheck, kinds: CheckKind | set[CheckKind],
                     interval: float = 0.1, limit: float = 15.0,
                     since: float | None = None) -> tuple[float, CheckResult]:
    """Run `check` every `interval` s until it reports one of `kinds`; return (seconds, result).

    The clock starts at `since` (a time.monotonic() taken when the fault was caused) or now.
    """
    wanted = {kinds} if isinstance(kinds, CheckKind) else kinds
    start = since if since is not None else time.monotonic()
    last: CheckResult | None = None
    while time.monotonic() - start < limit:
        last = await check.run()
        if last.kind in wanted:
            return time.monotonic() - start, last
        await asyncio.sleep(interval)
    raise AssertionError(f"{check.type_name} check never reported {sorted(wanted)} within "
                         f"{limit} s; last: {last}")


def report(what: str, seconds: float, result: CheckResult | str) -> None:
    kind = result if isinstance(result, str) else str(result.kind)
    print(f"DETECTION {what}: {seconds * 1000:.0f} ms ({kind})")
