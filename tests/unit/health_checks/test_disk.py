"""Disk pressure on a real small tmpfs the test mounts and fills: space, inodes, forecast."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

import health_checks
from health_checks.base import CheckKind
from tests.support.checks import make_check
from tests.support.faults import report, time_until


def make(**cfg):
    cls = health_checks.registry.get("disk")
    return cls(cls.config_model.model_validate({"type": "disk", **cfg}), "host")


@pytest.fixture
def small_fs(mount_tmpfs):
    """A 32 MB tmpfs with 200 inodes, mounted for this test only."""
    return mount_tmpfs("mnt", "size=32m,nr_inodes=200")


async def test_filling_disk_is_forecast_before_it_is_full(small_fs):
    check = make(path=str(small_fs), maxUsagePercent=90, minTimeToFull=600_000,
                 forecastWindow=5000)
    r = await check.run()
    assert r.kind is CheckKind.HEALTHY and r.details["usedPercent"] < 5

    # A log that grows 1 MB every 100 ms: full in about 3 s.
    stop = asyncio.Event()

    async def grow() -> None:
        with open(small_fs / "runaway.log", "wb") as f:  # noqa: ASYNC230 (the runaway writer)
            while not stop.is_set():
                try:
                    f.write(b"x" * 1_048_576)
                    f.flush()
                except OSError:
                    return
                await asyncio.sleep(0.1)

    writer = asyncio.create_task(grow())
    fault = time.monotonic()
    try:
        took, r = await time_until(check, CheckKind.RESOURCE_PRESSURE, interval=0.1,
                                   since=fault)
    finally:
        stop.set()
        await writer
    report("disk filling (forecast of time to full)", took, r)
    assert r.details.get("forecast") and "will be full in" in r.message, r
    assert r.details["usedPercent"] < 50, "the alert comes while there is still room"
    assert r.details["resource"] == "disk"

    # Then really full: plain space pressure.
    with open(small_fs / "fill.bin", "wb") as f:  # noqa: ASYNC230 (fills the disk on purpose)
        try:
            while True:
                f.write(b"x" * 1_048_576)
        except OSError:
            pass
    r = await make(path=str(small_fs)).run()
    assert r.kind is CheckKind.RESOURCE_PRESSURE and "% used" in r.message


async def test_inodes_run_out_before_space(small_fs):
    check = make(path=str(small_fs), maxInodesPercent=80)
    assert (await check.run()).kind is CheckKind.HEALTHY
    fault = time.monotonic()
    for i in range(170):
        (small_fs / f"f{i}").touch()
    took, r = await time_until(check, CheckKind.RESOURCE_PRESSURE, since=fault)
    report("inodes exhausted", took, r)
    assert "inodes" in r.message and r.details["usedPercent"] < 5
    for p in small_fs.iterdir():
        p.unlink() if p.is_file() else shutil.rmtree(p)
    assert (await check.run()).kind is CheckKind.HEALTHY


async def test_steady_usage_has_no_forecast(small_fs):
    (small_fs / "data.bin").write_bytes(b"x" * 4_000_000)
    check = make(path=str(small_fs), minTimeToFull=600_000, forecastWindow=1000)
    for _ in range(8):
        r = await check.run()
        assert r.kind is CheckKind.HEALTHY and "timeToFullS" not in r.details, r
        await asyncio.sleep(0.05)


async def test_disk_over_threshold_is_resource_pressure(tmp_path):
    r = await make_check("disk", path=str(tmp_path), maxUsagePercent=100).run()
    assert r.kind is CheckKind.HEALTHY
    r = await make_check("disk", path=str(tmp_path), maxUsagePercent=0.001).run()
    assert r.kind is CheckKind.RESOURCE_PRESSURE and r.details["resource"] == "disk"
