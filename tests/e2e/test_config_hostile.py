"""A hostile or broken services.json (issue 13, item 9): `validate`, the daemon at start and a
live reload all refuse it with the JSON path and a reason, never with a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from supervisor.config.loader import config_from_text
from supervisor.config.services import ConfigError
from tests.support.helpers import ROOT, services_file, wait_for

GOOD = services_file({"disk": {"checks": [{"type": "disk", "path": "/tmp"}], "interval": 1000}})
GOOD_TEXT = json.dumps(GOOD)

BAD_FILES: dict[str, tuple[bytes, str]] = {
    "nested 50,000 deep": (b'{"errorMonitoring": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                           "nested 50001 deep"),
    "UTF-16": (GOOD_TEXT.encode("utf-16"), "UTF-16"),
    "invalid UTF-8": (GOOD_TEXT.replace("disk", "d\xe9sk").encode("latin-1"), "not UTF-8"),
    "binary": (bytes(range(256)) * 4, "not"),
    "an integer of 5,000 digits": (
        GOOD_TEXT.replace('"interval": 1000', '"interval": ' + "9" * 5000).encode(),
        "errorMonitoring.services.disk.interval: a number with 5000 digits"),
    "a second errorMonitoring": (
        b'{"errorMonitoring": ' + GOOD_TEXT[len('{"errorMonitoring": '):-1].encode()
        + b', "errorMonitoring": {"services": {}}}', "errorMonitoring: duplicate key"),
    "a duplicate check field": (
        GOOD_TEXT.replace('"type": "disk"', '"type": "disk", "type": "memory"').encode(),
        "errorMonitoring.services.disk.checks[0].type: duplicate key"),
    "true as a number": (GOOD_TEXT.replace('"interval": 1000', '"interval": true').encode(),
                         "errorMonitoring.services.disk.interval: Input should be a valid number"),
    "a string as a number": (GOOD_TEXT.replace('"interval": 1000', '"interval": "5"').encode(),
                             "errorMonitoring.services.disk.interval"),
    "interval 1e308": (GOOD_TEXT.replace('"interval": 1000', '"interval": 1e308').encode(),
                       "errorMonitoring.services.disk.interval: must be <="),
    "interval 1e400": (GOOD_TEXT.replace('"interval": 1000', '"interval": 1e400').encode(),
                       "errorMonitoring.services.disk.interval: 1e400 is out of range"),
    "NaN": (GOOD_TEXT.replace('"interval": 1000', '"interval": NaN').encode(),
            "errorMonitoring.services.disk.interval: NaN is not a JSON number"),
    "a redis ftp:// URL": (json.dumps(services_file({"cache": {"checks": [
        {"type": "redis", "url": "ftp://127.0.0.1:6379"}]}})).encode(),
        "errorMonitoring.services.cache.checks[0].url"),
    "a top-level array": (b"[" + GOOD_TEXT.encode() + b"]",
                          "must hold a JSON object"),
    "a 1 MB service name": (json.dumps(services_file({"x" * 1_000_000: {}})).encode(),
                            "(1000000 characters)"),
}


def _problems(tmp_path, raw: bytes) -> str:
    """What the loader says of these bytes (in-process: the CLI test below runs a few)."""
    path = tmp_path / "services.json"
    try:
        config_from_text(raw, path)
    except ConfigError as exc:
        return str(exc)
    raise AssertionError("accepted")


def _validate(tmp_path, raw: bytes) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "services.json"
    path.write_bytes(raw)
    return subprocess.run([sys.executable, "-m", "supervisor", "validate", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(60)
def test_the_loader_names_the_problem(tmp_path):
    for what, (raw, expected) in BAD_FILES.items():
        said = _problems(tmp_path, raw)
        assert expected in said, (what, said[:2000])
        assert len(said) < 5000, (what, len(said))  # nothing echoed whole
        assert "ServicesFile" not in said, what  # no internal names


@pytest.mark.timeout(120)
def test_validate_names_the_problem_without_a_traceback(tmp_path):
    for what in ("nested 50,000 deep", "binary", "an integer of 5,000 digits",
                 "a second errorMonitoring", "a 1 MB service name"):
        raw, expected = BAD_FILES[what]
        done = _validate(tmp_path, raw)
        assert done.returncode == 1, (what, done.stdout, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, (what, done.stderr[-3000:])
        assert expected in done.stderr, (what, done.stderr[-2000:])
    # A UTF-8 byte order mark (Windows editors write one) is fine; unix:// and rediss:// too.
    done = _validate(tmp_path, b"\xef\xbb\xbf" + GOOD_TEXT.encode())
    assert done.returncode == 0, done.stderr
    redis = services_file({"a": {"checks": [{"type": "redis", "url": "unix:///run/r.sock"}]},
                           "b": {"checks": [{"type": "redis", "url": "rediss://h:6380/0"}]}})
    done = _validate(tmp_path, json.dumps(redis).encode())
    assert done.returncode == 0, done.stderr


@pytest.mark.timeout(60)
def test_the_daemon_refuses_to_start_with_the_reason(tmp_path):
    for what in ("nested 50,000 deep", "a second errorMonitoring", "invalid UTF-8"):
        raw, expected = BAD_FILES[what]
        config = tmp_path / "services.json"
        config.write_bytes(raw)
        os.chmod(config, 0o644)
        done = subprocess.run([sys.executable, "-m", "supervisor", "run", "--config",
                               str(config), "--data-dir", str(tmp_path / "data"), "--port", "0"],
                              cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 1, (what, done.stderr[-2000:])
        assert "refusing to start" in done.stderr and expected in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr[-3000:]


@pytest.mark.timeout(90)
def test_a_reload_records_the_rejection_and_keeps_running(daemon_factory, tmp_path):
    d = daemon_factory(GOOD, env={"SOULFRA_CONFIG_POLL_INTERVAL": "0"})
    wait_for(lambda: d.state("disk") == "healthy", timeout=15, what="disk healthy")
    for what in ("nested 50,000 deep", "an integer of 5,000 digits", "UTF-16",
                 "a second errorMonitoring", "interval 1e308", "a redis ftp:// URL"):
        raw, expected = BAD_FILES[what]
        d.config_path.write_bytes(raw)
        status, reply = d.post("/api/monitoring/reload")
        assert status == 422, (what, reply)
        assert any(expected in p for p in reply["problems"]), (what, reply["problems"])
        status, last = d.get("/api/monitoring/reload")
        assert status == 200 and last["last"]["ok"] is False, (what, last)
        assert last["last"]["problems"] == reply["problems"]
    # SIGHUP takes the same path.
    d.config_path.write_bytes(BAD_FILES["invalid UTF-8"][0])
    assert d.proc is not None
    d.proc.send_signal(1)
    wait_for(lambda: "not UTF-8" in " ".join(d.get("/api/monitoring/reload")[1]["last"]
                                             ["problems"]), timeout=10, what="SIGHUP rejection")
    assert d.state("disk") == "healthy"
    assert "Traceback" not in d.log(), d.log()[-3000:]
