#!/usr/bin/env python3
"""The demo's service: supervisor/selftest/service.py (shipped in the package, so that
`soulfra-supervisor selftest` has it outside a checkout). Options: --help."""

from supervisor.selftest.service import main

if __name__ == "__main__":
    raise SystemExit(main())
