"""What the tests share: real servers on free ports, the daemon as a subprocess, receivers that
answer like the real APIs, fault helpers, and the worker scripts tests run as subprocesses."""
