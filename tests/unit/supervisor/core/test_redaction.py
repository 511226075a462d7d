"""Secrets are masked wherever they appear in text or data."""

from supervisor.core.redaction import MASK, redact, redact_text


def test_masks_secrets_in_text():
    cases = {
        "redis://:hunter2@127.0.0.1:6379/0": "hunter2",
        "postgresql://app:s3cr3t!@db:5432/main": "s3cr3t!",
        "https://hooks.slack.com/services/T000/B000/XXXXSECRET": "XXXXSECRET",
        "https://discord.com/api/webhooks/123/abcTOKENdef": "abcTOKENdef",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig": "eyJhbGciOiJIUzI1NiJ9",
        "GET /x?api_key=AKIA1234567&x=1": "AKIA1234567",
        'failed with {"password": "pa55word"}': "pa55word",
        "token=abcdef123456 was rejected": "abcdef123456",
    }
    for text, secret in cases.items():
        out = redact_text(text)
        assert secret not in out and MASK in out, (text, out)


def test_keeps_ordinary_text():
    for text in ("no answer from http://127.0.0.1:8787/health within 2000 ms",
                 "process 6035 was killed by SIGKILL", "disk / 91.0% used (limit 90%)"):
        assert redact_text(text) == text


def test_masks_values_by_key_name_in_data():
    data = {"url": "http://u:pw@h/", "headers": {"Authorization": "Basic dXNlcjpwYXNz",
                                                 "Accept": "json"},
            "apiKey": "k-123", "nested": [{"client_secret": "zzz"}], "count": 3}
    out = redact(data)
    assert out["url"] == f"http://u:{MASK}@h/"
    assert out["headers"] == {"Authorization": MASK, "Accept": "json"}
    assert out["apiKey"] == MASK and out["nested"] == [{"client_secret": MASK}]
    assert out["count"] == 3
