"""ensure_path on real files: missing dirs and modes restored, stale pid files removed, symlinks
left alone."""

from __future__ import annotations

import asyncio
import os
import stat
import sys

from tests.support.strategies import context, strategy


async def test_ensure_path_restores_missing_dirs_modes_and_removes_stale_pid_files(tmp_path):
    gone_dir = tmp_path / "run" / "app"
    loose = tmp_path / "data"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    stale, live = tmp_path / "stale.pid", tmp_path / "live.pid"
    stale.write_text(f"{dead.pid}\n")
    live.write_text(f"{os.getpid()}\n")
    step = strategy("ensure_path", paths=[{"path": str(gone_dir), "mode": "0750"},
                                          {"path": str(loose), "mode": "0700"}],
                    staleFiles=[str(stale), str(live)])

    dry = await step.run(context(tmp_path, dry_run=True))
    assert dry.ok and "would create directory" in dry.message and "would chmod" in dry.message
    assert not gone_dir.exists() and stat.S_IMODE(loose.stat().st_mode) == 0o777
    assert stale.exists()

    outcome = await step.run(context(tmp_path))
    assert outcome.ok, outcome.message
    assert gone_dir.is_dir() and stat.S_IMODE(gone_dir.stat().st_mode) == 0o750
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    assert not stale.exists(), "the pid in it is gone"
    assert live.exists(), "a pid file of a running process stays"
    again = await step.run(context(tmp_path))
    assert again.ok and again.message.startswith("nothing to repair")


async def test_ensure_path_leaves_a_symlink_alone(tmp_path):
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    (tmp_path / "link").symlink_to(target)
    step = strategy("ensure_path", paths=[{"path": str(tmp_path / "link"), "mode": "0700"}])
    outcome = await step.run(context(tmp_path))
    assert not outcome.ok and "symlink" in outcome.message
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
