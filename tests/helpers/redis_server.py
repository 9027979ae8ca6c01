"""Find a real Redis for tests: $ANTECHAMBER_TEST_REDIS_URL, 127.0.0.1:6379, or one we start.

When CI=true and no Redis can be had, tests that need it fail instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisProvider:
    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.tmp: str | None = None

    def get(self) -> str:
        if self.url:
            return self.url
        env_url = os.environ.get("ANTECHAMBER_TEST_REDIS_URL")
        if env_url:
            self.url = env_url
            return env_url
        if _reachable("127.0.0.1", 6379):
            self.url = "redis://127.0.0.1:6379/0"
            return self.url
        exe = shutil.which("redis-server")
        if exe:
            port = free_port()
            self.tmp = tempfile.mkdtemp(prefix="antechamber-redis-")
            self.proc = subprocess.Popen(
                [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.tmp],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if _reachable("127.0.0.1", port):
                    self.url = f"redis://127.0.0.1:{port}/0"
                    return self.url
                time.sleep(0.1)
        message = "no Redis server reachable at 127.0.0.1:6379 and none could be started"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


async def drop_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (a test's own namespace) from the Redis at ``url``."""
    import redis.asyncio as aioredis

    r = aioredis.from_url(url)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()
