"""The fault zoo and `soulfra-supervisor selftest`: real faults injected into throwaway
services under a throwaway daemon, measured from the daemon's own API (docs/selftest.md).
Shipped in the package, so that a user can run it from a pip install."""
