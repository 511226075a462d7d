"""The memory check: a threshold on the host's memory use."""

from __future__ import annotations

from health_checks.base import CheckKind
from tests.support.checks import make_check


async def test_memory_threshold():
    assert (await make_check("memory", maxUsagePercent=100).run()).kind is CheckKind.HEALTHY
    r = await make_check("memory", maxUsagePercent=0.001).run()
    assert r.kind is CheckKind.RESOURCE_PRESSURE and r.details["resource"] == "memory"
