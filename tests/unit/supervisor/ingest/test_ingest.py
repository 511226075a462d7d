"""The pure parts of ingest, one module at a time: the reported-error classifier, grouping,
scrubbing, envelope parsing, error windows, budgets and sampling."""

from __future__ import annotations

import json

import pytest

from supervisor.core.error_rates import ErrorRates
from supervisor.core.reported_taxonomy import classify_reported
from supervisor.ingest.budget import Budgets, Sampler
from supervisor.ingest.envelope import parse_envelope
from supervisor.ingest.limits import IngestError
from supervisor.ingest.normalise import group_fingerprint, normalise_event
from supervisor.ingest.scrub import scrub


@pytest.mark.parametrize(("exc_type", "module", "value", "category"), [
    ("Error", None, "connect ECONNREFUSED 127.0.0.1:5432", "SERVICE_UNAVAILABLE"),
    ("Error", None, "connect ETIMEDOUT 10.0.0.3:443", "NETWORK_TIMEOUT"),
    ("FetchError", None, "request to http://x failed, reason: socket hang up", "CONNECTION_LOST"),
    ("ConnectionRefusedError", "builtins", "[Errno 111] Connection refused",
     "SERVICE_UNAVAILABLE"),
    ("TimeoutError", "asyncio.exceptions", "", "NETWORK_TIMEOUT"),
    ("ReadTimeout", "httpx", "timed out", "NETWORK_TIMEOUT"),
    ("PrismaClientKnownRequestError", None,
     "Unique constraint failed on the fields: (`email`)", "CONSTRAINT_VIOLATION"),
    ("PrismaClientKnownRequestError", None, "Invalid `prisma.user.create()` invocation: "
     "The table `main.User` does not exist (P2021)", "SCHEMA_VIOLATION"),
    ("PrismaClientInitializationError", None, "Can't reach database server at `db:5432`",
     "SERVICE_UNAVAILABLE"),
    ("UniqueViolationError", "asyncpg.exceptions",
     'duplicate key value violates unique constraint "users_email_key"',
     "CONSTRAINT_VIOLATION"),
    ("UndefinedTableError", "asyncpg.exceptions", 'relation "users" does not exist',
     "SCHEMA_VIOLATION"),
    ("IntegrityError", "sqlite3", "UNIQUE constraint failed: users.email",
     "CONSTRAINT_VIOLATION"),
    ("OperationalError", "sqlite3", "database is locked", "DATABASE_ERROR"),
    ("SqliteError", None, "UNIQUE constraint failed: t.id", "CONSTRAINT_VIOLATION"),
    ("error", None, 'duplicate key value violates unique constraint "pk"',
     "CONSTRAINT_VIOLATION"),
    ("ConnectionError", "redis.exceptions", "Error 111 connecting to 127.0.0.1:6379. "
     "Connection refused.", "SERVICE_UNAVAILABLE"),
    ("TimeoutError", "redis.exceptions", "Timeout reading from socket", "NETWORK_TIMEOUT"),
    ("ReplyError", None, "WRONGTYPE Operation against a key holding the wrong kind of value",
     "SCHEMA_VIOLATION"),
    ("MaxRetriesPerRequestError", None, "Reached the max retries per request limit",
     "CONNECTION_LOST"),
    ("AxiosError", None, "Request failed with status code 429", "RATE_LIMIT_EXCEEDED"),
    ("HTTPError", "urllib.error", "HTTP Error 503: Service Unavailable", "SERVICE_UNAVAILABLE"),
    ("RateLimitError", "openai", "Rate limit reached", "RATE_LIMIT_EXCEEDED"),
    ("APIConnectionError", "openai", "Connection error.", "AI_PROVIDER_ERROR"),
    ("ZodError", None, '[{"code": "invalid_type"}]', "VALIDATION_FAILED"),
    ("ValidationError", "pydantic_core._pydantic_core", "1 validation error for User",
     "VALIDATION_FAILED"),
    ("ValidationError", "jsonschema.exceptions", "'id' is a required property",
     "VALIDATION_FAILED"),
    ("SyntaxError", None, "Unexpected token < in JSON at position 0", "CONTENT_PARSE_ERROR"),
    ("JSONDecodeError", "json.decoder", "Expecting value: line 1 column 1 (char 0)",
     "CONTENT_PARSE_ERROR"),
    ("Error", None, "ENOSPC: no space left on device, write", "DISK_EXHAUSTED"),
    ("RangeError", None, "JavaScript heap out of memory", "MEMORY_EXHAUSTED"),
    ("Error", None, "EMFILE: too many open files", "FILE_DESCRIPTORS_EXHAUSTED"),
    ("PermissionError", "builtins", "[Errno 13] Permission denied: '/var/x'",
     "PERMISSION_DENIED"),
    ("TypeError", None, "Cannot read properties of undefined (reading 'id')",
     "INTERNAL_ERROR"),
])
def test_reported_errors_are_classified_by_name_code_and_message(exc_type, module, value,
                                                                 category):
    assert classify_reported([(exc_type, module, value)]).category == category


def test_the_cause_chain_and_levels_decide_together():
    chain = [("RuntimeError", None, "sync failed"),
             ("ConnectionRefusedError", "builtins", "refused")]  # outermost first
    assert classify_reported(chain).category == "SERVICE_UNAVAILABLE"
    assert classify_reported([("TypeError", None, "x")], level="warning").severity == "low"
    assert classify_reported([("TypeError", None, "x")], level="fatal").severity == "critical"
    crash = classify_reported([("TypeError", None, "x")], unhandled=True)
    assert (crash.severity, crash.type) == ("high", "unhandled_exception")
    assert classify_reported([("Error", None, "ECONNREFUSED")], level="error").severity == \
        "high"  # the category's weight at error level
    assert classify_reported([], message="redis connection lost", level="info").severity == \
        "info"


def _exc(type_: str, value: str, *frames: tuple[str, str, int, bool]) -> dict:
    return {"type": type_, "value": value, "stacktrace": {"frames": [
        {"module": m, "function": f, "lineno": n, "in_app": app} for m, f, n, app in frames]}}


def test_grouping_ignores_line_numbers_and_values_but_not_the_code_path():
    a = _exc("KeyError", "'user-1'", ("lib.http", "send", 10, False), ("app.jobs", "run", 12,
                                                                        True))
    b = _exc("KeyError", "'user-2'", ("lib.http", "send", 99, False), ("app.jobs", "run", 40,
                                                                        True))
    c = _exc("KeyError", "'user-1'", ("app.jobs", "other", 12, True))
    fp = [group_fingerprint("svc", {}, [e], "") for e in (a, b, c)]
    assert fp[0] == fp[1] != fp[2]
    assert group_fingerprint("svc", {}, [a], "") != group_fingerprint("other", {}, [a], "")
    # no frames: the type and the normalised value
    assert group_fingerprint("s", {}, [{"type": "E", "value": "job 12 failed"}], "") == \
        group_fingerprint("s", {}, [{"type": "E", "value": "job 99 failed"}], "")
    # the SDK's fingerprint wins; {{ default }} stands for the default
    sent = group_fingerprint("s", {"fingerprint": ["db-down"]}, [a], "")
    assert sent == group_fingerprint("s", {"fingerprint": ["db-down"]}, [c], "")
    assert group_fingerprint("s", {"fingerprint": ["{{ default }}", "eu"]}, [a], "") != \
        group_fingerprint("s", {"fingerprint": ["{{ default }}", "us"]}, [a], "")
    # a log message groups by its template, before formatting
    one = normalise_event({"logentry": {"message": "export of %s failed", "formatted":
                                        "export of a.csv failed"}}, "s", 0.0)
    two = normalise_event({"logentry": {"message": "export of %s failed", "formatted":
                                        "export of b.csv failed"}}, "s", 0.0)
    assert one.fingerprint == two.fingerprint and one.label == "export of a.csv failed"


def test_scrubbing_reaches_request_headers_extra_breadcrumbs_and_frame_vars():
    event = {
        "request": {"url": "https://u:pw@api/x?token=abc123", "headers": {
            "Authorization": "Bearer abcdefgh", "Cookie": "sid=1", "X-Api-Key": "k1"},
            "cookies": {"sid": "1"}, "data": {"password": "p", "card_number": "4111"},
            "query_string": [["token", "q1"], ["page", "2"]]},
        "extra": {"note": "paid with 4111-1111-1111-1111", "order": 12345678901234,
                  "owner": "kept"},
        "breadcrumbs": {"values": [{"message": "POST /login password=hunter2",
                                    "data": {"session_id": "s1"}}]},
        "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
            {"function": "f", "vars": {"secret": "s", "n": 1}}]}}]},
        "user": {"email": "a@b.c"},
    }
    out = json.dumps(scrub(event))
    for secret in ("abcdefgh", "sid=1", "k1", '"p"', "4111-1111", "hunter2", '"s1"', ':pw@',
                   "abc123", "q1", '"s"'):
        assert secret not in out, secret
    for kept in ("12345678901234", '"kept"', '"page", "2"', "a@b.c", '"n": 1'):
        assert kept in out, kept


def test_envelopes_keep_good_items_around_bad_ones():
    payload = b'{"message": "hi"}'
    data = (b'{"event_id": "0"}\n'
            b'{"type": "event", "length": %d}\n%s\n' % (len(payload), payload) +
            b'not a header\n'
            b'{"type": "attachment", "length": 4}\n\n\n\n\n'  # binary payload with newlines
            b'{"type": "event"}\n{"message": "no length"}\n')
    env = parse_envelope(data)
    assert [i.type for i in env.items] == ["event", "attachment", "event"]
    assert env.items[1].payload == b"\n\n\n\n" and env.problems
    with pytest.raises(IngestError) as bad:
        parse_envelope(b"[1, 2]\n")
    assert bad.value.status == 400
    truncated = parse_envelope(b'{}\n{"type": "event", "length": 100}\n{"short"')
    assert truncated.items == [] and "shorter" in truncated.problems[0]


def test_error_windows_count_exactly_and_forget_what_came_before_a_restart():
    rates = ErrorRates()
    for i in range(30):
        rates.record("w", "fp1", unhandled=i % 3 == 0, label="E: a", frame="m in f",
                     category="INTERNAL_ERROR", at=100.0 + i * 0.1)
    rates.record("w", "fp2", unhandled=False, label="E: b", frame="", category="X", at=103.5)
    w = rates.window("w", 10, now=104.0)
    assert (w.total, w.unhandled, w.top_label, w.top_count, w.groups) == (31, 10, "E: a", 30, 2)
    assert rates.window("w", 1, now=104.0).total == 1
    rates.cut("w", at=103.2)
    assert rates.window("w", 10, now=104.0).total == 1  # only fp2, after the restart
    assert rates.window("other", 10).total == 0


def test_budgets_refill_and_sampling_keeps_first_then_one_per_interval():
    b = Budgets(rate=10, burst=20)
    assert b.take("s", 20, now=0.0) == 0.0
    assert b.take("s", 1, now=0.0) >= 1.0
    assert b.take("s", 5, now=0.5) == 0.0  # 0.5 s refilled 5
    b.configure("big", 1000, 5000)
    assert b.take("big", 5000, now=0.0) == 0.0
    s = Sampler(first=3, every_s=10)
    kept = [s.keep("g", now=t) for t in (0, 1, 2, 3, 4, 12.5, 13)]
    assert kept == [True, True, True, False, False, True, False]


def test_card_numbers_are_masked_but_timestamps_and_ids_are_not():
    text = ("visa 4111 1111 1111 1111, amex 378282246310005, mc 5555-5555-5555-4444, "
            "ns 1796116751495056688, id ab4111111111111111cd, order 12345678901234")
    out = scrub(text)
    assert out.count("***") == 3
    for kept in ("1796116751495056688", "ab4111111111111111cd", "12345678901234"):
        assert kept in out


def test_a_sampled_out_event_is_counted_without_its_context():
    event = {"exception": {"values": [_exc("KeyError", "'password=hunter2'",
                                           ("app.jobs", "run", 1, True))]},
             "extra": {"blob": "x" * 1000}}
    kept = normalise_event(event, "s", 1.0, keep=lambda fp: True)
    counted = normalise_event(event, "s", 2.0, keep=lambda fp: False)
    assert kept.fingerprint == counted.fingerprint
    assert kept.row["id"] and counted.row["id"] is None
    assert "context" not in counted.row and "hunter2" not in counted.row["message"]
    assert counted.row["category"] == kept.row["category"]
