"""disk_cleanup on real files: oldest or largest first, nothing outside the spool (links), dry
runs, config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import recovery_strategies
from tests.support.strategies import context, strategy, write


@pytest.fixture
def spool(tmp_path: Path) -> dict[str, Path]:
    """A spool with old and new logs, plus an outside folder reachable only through links."""
    spool, outside = tmp_path / "spool", tmp_path / "outside"
    files = {f"old{i}": write(spool / f"old{i}.log", 1000, 3600 * (10 - i)) for i in range(4)}
    files["new"] = write(spool / "new.log", 1000, 1)
    files["nested"] = write(spool / "deep" / "nested.log", 500, 7200)
    files["keep"] = write(spool / "keep.txt", 5000, 99999)  # does not match *.log
    files["outside"] = write(outside / "precious.log", 1000, 99999)
    files["outside_nested"] = write(outside / "sub" / "precious2.log", 1000, 99999)
    (spool / "link-dir").symlink_to(outside, target_is_directory=True)
    (spool / "link-file.log").symlink_to(outside / "precious.log")
    return files


async def test_disk_cleanup_frees_the_oldest_and_nothing_outside(tmp_path, spool):
    step = strategy("disk_cleanup", directories=[str(tmp_path / "spool")], patterns=["*.log"],
                    olderThan=60_000, maxFiles=3)
    outcome = await step.run(context(tmp_path))
    assert outcome.ok, outcome.message
    # The three oldest matching files (deep/nested.log is 2 h old, between old3 and old2).
    gone = {k for k, p in spool.items() if not p.exists()}
    assert gone == {"old0", "old1", "old2"}, gone
    assert outcome.details["freedBytes"] == 3000 and outcome.details["files"] == 3
    assert "skipped 2 symlink(s)" in outcome.message
    assert str(spool["old0"]) in outcome.output
    for kept in ("outside", "outside_nested", "keep", "new", "old3", "nested"):
        assert spool[kept].exists(), kept
    assert (tmp_path / "spool" / "link-file.log").is_symlink(), "a link is not deleted either"

    # Again, without a count cap but with a byte cap: the next oldest, until 1000 B are freed.
    step = strategy("disk_cleanup", directories=[str(tmp_path / "spool")], patterns=["*.log"],
                    olderThan=60_000, maxBytes=1000)
    outcome = await step.run(context(tmp_path))
    assert not spool["old3"].exists() and spool["nested"].exists()
    assert spool["new"].exists(), "younger than olderThan"
    assert spool["outside"].exists() and spool["outside_nested"].exists()


async def test_disk_cleanup_largest_first_and_dry_run_changes_nothing(tmp_path, spool):
    step = strategy("disk_cleanup", directories=[str(tmp_path / "spool")], patterns=["*"],
                    olderThan=0, order="largest", maxFiles=1)
    dry = await step.run(context(tmp_path, dry_run=True))
    assert dry.ok and dry.message.startswith("would free")
    assert str(spool["keep"]) in dry.output
    assert all(p.exists() for p in spool.values()), "a dry run deletes nothing"
    done = await step.run(context(tmp_path))
    assert done.ok and not spool["keep"].exists()
    assert sum(not p.exists() for p in spool.values()) == 1


async def test_disk_cleanup_with_nothing_to_delete_fails_so_the_ladder_moves_on(tmp_path):
    (tmp_path / "empty").mkdir()
    step = strategy("disk_cleanup", directories=[str(tmp_path / "empty")])
    outcome = await step.run(context(tmp_path))
    assert not outcome.ok and outcome.message.startswith("nothing to clean")


def test_disk_cleanup_config_refuses_relative_and_root_directories():
    cls = recovery_strategies.registry.get("disk_cleanup").config_model
    for bad in (["relative/dir"], ["/"], []):
        with pytest.raises(ValueError):
            cls.model_validate({"strategy": "disk_cleanup", "directories": bad})
