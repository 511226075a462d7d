"""Liveness probe for container runtimes: `python3 -m supervisor.cli.probe`, exit 0 when the
daemon's API answers /api/monitoring/health in time, 1 otherwise.

200 and 503 both mean alive: 503 says the *watched platform* is critical, and restarting the
supervisor (what a failed HEALTHCHECK or livenessProbe leads to) would not help it. A blocked
event loop or a dead daemon does not answer within the timeout. Only the standard library is
imported, so a probe every few seconds costs little.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

ALIVE = (200, 503)


def probe(port: int, timeout_s: float = 4.0) -> tuple[bool, str]:
    url = f"http://127.0.0.1:{port}/api/monitoring/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return False, f"{url}: {exc}"
    return status in ALIVE, f"{url}: HTTP {status}"


def main() -> int:
    ok, line = probe(int(os.environ.get("SOULFRA_PORT", "3001")))
    sys.stdout.write(line + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
