"""The test servers are real and are really stopped."""

from __future__ import annotations

import asyncio
import socket

import aiomqtt
import psutil

from tests.support.servers import RedisServer


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64)


def test_redis_fixture_answers_and_restarts_on_the_same_port(redis_server, tmp_path):
    assert _ping(redis_server.port) == b"+PONG\r\n"
    pid = redis_server.pid
    redis_server.kill()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    redis_server.start()
    assert _ping(redis_server.port) == b"+PONG\r\n"


async def test_mosquitto_fixture_round_trips_a_message(mosquitto_server):
    async with aiomqtt.Client("127.0.0.1", mosquitto_server.port) as client:
        await client.subscribe("soulfra/test")
        await client.publish("soulfra/test", b"x")
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert message.payload == b"x"
                break


def test_ports_are_distinct(tmp_path):
    a, b = RedisServer(tmp_path / "a"), RedisServer(tmp_path / "b")
    assert a.port != b.port
