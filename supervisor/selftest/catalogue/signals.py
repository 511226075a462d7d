"""Faults the service or its surroundings tell of rather than show in a health answer: a
certificate about to expire (a human renews it: alert, no restart), unhandled exceptions
reported through the service's own Sentry SDK, and a container killed under Docker."""

from __future__ import annotations

import secrets
import subprocess

from supervisor.selftest.catalogue.process import RESTART
from supervisor.selftest.catalogue.tools import base_url, post
from supervisor.selftest.faults import Fault, Setup, find_binary
from supervisor.selftest.lab import Lab


def cert_expiry(lab: Lab) -> Setup:
    """The service serves https with a certificate that expires in 3 days (the check warns
    14 days ahead). Present from the start: the check reads a certificate at most every 10
    minutes, so a certificate swapped later would not be seen within a selftest."""
    folder = lab.folder("cert-expiry")
    cert, key = folder / "cert.pem", folder / "cert.key"
    subprocess.run([find_binary("openssl") or "openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    svc = lab.service("cert-expiry", "--tls-cert", str(cert), "--tls-key", str(key),
                      healthCheckPath=None)
    svc["checks"] = [{"type": "http", "url": f"https://127.0.0.1:{svc['port']}/health",
                      "caFile": str(cert), "tlsExpiryDays": 14}]
    return Setup({"cert-expiry": svc}, "cert-expiry", lambda: None, present_at_start=True,
                 may_act_on=set(), monit=f"check host cert-expiry with address 127.0.0.1\n"
                 f"  if failed port {svc['port']} protocol https and certificate valid > 14 days"
                 " then alert\n")


def sdk_exceptions(lab: Lab) -> Setup:
    key = secrets.token_hex(16)
    project = 4242
    dsn = f"http://{key}@{lab.daemon_url.removeprefix('http://')}/{project}"
    svc = lab.service("sdk-exceptions", "--dsn", dsn,
                      errorReporting={"projectId": project, "keys": [key]})
    svc["checks"] = [{"type": "errors", "window": 60000, "maxUnhandled": 3}]
    return Setup({"sdk-exceptions": svc}, "sdk-exceptions",
                 lambda: post(base_url(svc) + "/throw?n=8"), monit=None)


def container_killed(lab: Lab) -> Setup:
    raise RuntimeError("no container image to run offline (set up by bench/, not selftest)")


FAULTS = [
    Fault("cert-expiry", "the service's TLS certificate expires in 3 days (warned at 14)",
          ("degraded",), None, cert_expiry, outcome="alert", needs=("openssl",)),
    Fault("sdk-exceptions", "unhandled exceptions in a loop, reported by sentry_sdk",
          ("unhandled_exception",), RESTART, sdk_exceptions,
          needs=("python:sentry_sdk",)),
    Fault("container-killed", "docker kill of a watched container", ("PROCESS_EXITED",),
          "restart_container", container_killed, needs=("docker",)),
]
