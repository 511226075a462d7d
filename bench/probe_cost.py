#!/usr/bin/env python3
"""CPU per plain HTTP GET probe, by client implementation, against bench/scale_server.py.

    .venv/bin/python -m bench.probe_cost [--requests 3000] [--concurrency 50]

What the scale scenario's profile points at: most of soulfra-supervisor's CPU per check is
spent in the aiohttp client (connection set-up), not in the scheduler. This measures, in one
process, the same GET done several ways: aiohttp as the daemon configures it (shared session,
force_close), asyncio streams, a bare asyncio.Protocol, and the daemon's lean probe
(supervisor/clients/http_probe.py) with a fresh connection and with a kept one; each on the
asyncio loop and on uvloop (when installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bench.procs import free_port, http_get, wait_for
from supervisor.clients.http_probe import HttpProbe, build_request

SERVER = Path(__file__).resolve().parent / "scale_server.py"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def aiohttp_way(port: int, n: int, conc: int) -> None:
    conn = aiohttp.TCPConnector(force_close=True, limit=0, ttl_dns_cache=300)
    async with aiohttp.ClientSession(connector=conn, trust_env=False) as session:
        async def one(i: int) -> None:
            async with asyncio.timeout(2):
                async with session.get(f"http://127.0.0.1:{port}/p{i % 100}",
                                       allow_redirects=False) as resp:
                    await resp.read()
        await _fan(one, n, conc)


async def streams_way(port: int, n: int, conc: int) -> None:
    async def one(i: int) -> None:
        async with asyncio.timeout(2):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /p{i % 100} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Connection: close\r\n\r\n".encode())
            line = await reader.readline()
            await reader.read()
            writer.close()
            assert line.split()[1] == b"200"
    await _fan(one, n, conc)


class _Probe(asyncio.Protocol):
    def __init__(self, request: bytes, done: asyncio.Future[int]) -> None:
        self.request, self.done, self.head = request, done, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if not self.done.done():
            self.head += data
            if b"\r\n" in self.head:
                self.done.set_result(int(self.head.split(b" ", 2)[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed before a status line"))


async def protocol_way(port: int, n: int, conc: int) -> None:
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        done: asyncio.Future[int] = loop.create_future()
        req = f"GET /p{i % 100} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        async with asyncio.timeout(2):
            transport, _ = await loop.create_connection(lambda: _Probe(req.encode(), done),
                                                        "127.0.0.1", port)
            try:
                assert await done == 200
            finally:
                transport.close()
    await _fan(one, n, conc)


async def lean_way(port: int, n: int, conc: int, reuse: bool) -> None:
    probes = [HttpProbe("127.0.0.1", port, build_request(
        "GET", f"/p{i}", f"127.0.0.1:{port}", {}, keep_alive=reuse), reuse=reuse)
        for i in range(100)]

    async def one(i: int) -> None:
        async with asyncio.timeout(2):
            assert (await probes[i % 100].fetch()).status == 200
    try:
        await _fan(one, n, conc)
    finally:
        for p in probes:
            p.close()


async def _fan(one: Callable[[int], Awaitable[None]], n: int, conc: int) -> None:
    sem = asyncio.Semaphore(conc)

    async def guarded(i: int) -> None:
        async with sem:
            await one(i)
    await asyncio.gather(*(guarded(i) for i in range(n)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, str(SERVER), "--port", str(port), "--paths",
                               "100"], stdout=subprocess.DEVNULL)
    out: dict[str, list[float]] = {}
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{port}/__stats")[0] == 200, 10)
        ways: dict[str, Callable[[int, int, int], Awaitable[None]]] = {
            "aiohttp (as the daemon)": aiohttp_way, "asyncio streams": streams_way,
            "asyncio.Protocol": protocol_way,
            "lean probe, fresh connection": lambda p, n, c: lean_way(p, n, c, False),
            "lean probe, kept connection": lambda p, n, c: lean_way(p, n, c, True)}
        loops: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
            "asyncio": asyncio.new_event_loop}
        try:
            import uvloop
            loops["uvloop"] = uvloop.new_event_loop
        except ImportError:
            pass
        for _ in range(a.rounds):
            for loop_name, factory in loops.items():
                for name, way in ways.items():
                    cpu0 = _cpu()
                    with asyncio.Runner(loop_factory=factory) as runner:
                        runner.run(way(port, a.requests, a.concurrency))
                    cpu = _cpu() - cpu0
                    out.setdefault(f"{name} [{loop_name}]", []).append(
                        cpu / a.requests * 1000)
    finally:
        server.kill()
        server.wait()
    result = {name: round(min(v), 3) for name, v in out.items()}
    print(json.dumps({"client_cpu_ms_per_get (best of rounds)": result,
                      "load_1min": round(os.getloadavg()[0], 2)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
