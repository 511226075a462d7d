"""The zoo's catalogue and the selftest table, without running anything."""

from __future__ import annotations

import pytest

from supervisor.selftest import catalogue
from supervisor.selftest.faults import missing_need
from supervisor.selftest.measure import Row
from supervisor.selftest.table import all_passed, render

pytestmark = pytest.mark.timeout(10)


def test_the_zoo_has_at_least_25_faults_with_unique_names_and_a_quick_dozen():
    names = [f.name for f in catalogue.ALL]
    assert len(names) >= 25 and len(set(names)) == len(names)
    assert len(catalogue.QUICK) >= 12
    assert all(f.detect for f in catalogue.ALL)


def test_an_unknown_fault_name_is_named_in_the_error():
    with pytest.raises(KeyError, match="unknown fault.*nope"):
        catalogue.by_name(["crash", "nope"])
    assert [f.name for f in catalogue.by_name(["hang", "crash"])] == ["crash", "hang"]


def test_a_missing_need_says_what_is_missing():
    assert missing_need("python:json") is None
    assert missing_need("python:no_such_module_here") == \
        "needs the Python module no_such_module_here"
    assert missing_need("no-such-binary-xyz") == "needs no-such-binary-xyz (not found on PATH)"


def test_the_table_shows_each_row_its_reason_and_a_summary():
    rows = [Row("crash", verdict="pass", detected_as="process_exited (PROCESS_EXITED)",
                healed_by="restart_command", detect_s=0.04, healthy_s=0.8),
            Row("hang", verdict="fail", why="not detected"),
            Row("postgres", verdict="skipped", why="needs initdb (not found on PATH)")]
    text = render(rows)
    assert "crash" in text and "restart_command" in text and "0.8 s" in text
    assert "\n    not detected" in text
    assert text.endswith("1/2 passed, 1 skipped; harmful actions: 0")
    assert not all_passed(rows)
    assert all_passed([rows[0], rows[2]])
    assert not all_passed([rows[2]])  # nothing ran: nothing was shown


def test_the_selftest_and_its_service_ship_in_the_package():
    """pyproject's package list finds them: selftest works from a pip install, outside a
    checkout (the throwaway service is `python -m supervisor.selftest.service`)."""
    import tomllib
    from pathlib import Path

    from setuptools import find_packages

    root = Path(__file__).resolve().parents[4]
    include = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    found = find_packages(str(root), include=include)
    assert {"supervisor.selftest", "supervisor.selftest.catalogue"} <= set(found)
