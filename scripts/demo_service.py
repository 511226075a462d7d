#!/usr/bin/env python3
"""The demo's service: supervisor/selftest/service.py (shipped in the package, so that
`soulfra-supervisor selftest` has it outside a checkout). Options: --help.

Run with any python3 (the shipped services.json and the systemd test use the system one): the
service needs only the standard library, and the checkout's package is found beside this file.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from supervisor.selftest.service import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
