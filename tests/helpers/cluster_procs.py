"""Several real server processes on one Redis: a cluster for tests (docs/architecture.md, "Cluster").

Every node gets its own data directory, HTTP port, node id and UDP port range; all share the
Redis URL with one test-unique key prefix, the API key and the cluster identity (created once in
Redis by the first node). ``Cluster.node(i)`` is a ``ServerProcess``; ``nodes_seen()`` asks any
node's ``GET /api/v1/cluster/nodes``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.helpers.redis_server import _reachable, free_port
from tests.helpers.server_process import ServerProcess

API_KEY = "cluster-test-key-0123456789abcdef"
UDP_BASE = 42000
UDP_SPAN = 200


def http(method: str, url: str, body: Any = None, *, key: str | None = API_KEY,
         timeout: float = 15.0) -> tuple[int, Any]:
    """One REST call: (status, decoded JSON body or None); HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, (json.loads(raw) if raw else None)
        except ValueError:
            return err.code, raw.decode(errors="replace")


def wait_until(check, *, timeout: float = 30.0, what: str = "condition", every: float = 0.1):
    """Poll ``check()`` until it returns a truthy value; that value, or TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:      # a node restarting or gone: keep polling
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise TimeoutError(f"timed out waiting for {what} (last: {last!r})")


class Cluster:
    def __init__(self, tmp: Path, redis_url: str, size: int = 3, *, extra_args: list[str] | None = None):
        sep = "&" if "?" in redis_url else "?"
        self.prefix = f"c{uuid.uuid4().hex[:10]}:"
        self.redis_url = f"{redis_url}{sep}prefix={self.prefix}"
        self.base_redis_url = redis_url
        self.tmp = tmp
        self.extra_args = extra_args or []
        self.nodes: list[ServerProcess] = [self._make(i) for i in range(size)]

    def _make(self, i: int) -> ServerProcess:
        low = UDP_BASE + i * UDP_SPAN
        args = ["--redis-url", self.redis_url, "--node-id", f"node-{i}",
                "--udp-port-range", f"{low}-{low + UDP_SPAN - 1}", *self.extra_args]
        return ServerProcess(self.tmp / f"node{i}", api_key=API_KEY, extra_args=args)

    def node(self, i: int) -> ServerProcess:
        return self.nodes[i]

    def start(self) -> "Cluster":
        with ThreadPoolExecutor(len(self.nodes)) as pool:       # the nodes start side by side
            for f in [pool.submit(n.start, 60) for n in self.nodes]:
                f.result()
        wait_until(lambda: len(self.nodes_seen(0)) == len(self.nodes), timeout=30, what="every node registered")
        return self

    def ws(self, i: int) -> str:
        return self.nodes[i].url.replace("http://", "ws://") + "/ws"

    def restart(self, i: int) -> ServerProcess:
        self.nodes[i] = self._make(i)
        return self.nodes[i].start(timeout=60)

    def nodes_seen(self, via: int) -> list[dict]:
        status, body = http("GET", self.nodes[via].url + "/api/v1/cluster/nodes")
        return body["nodes"] if status == 200 else []

    def owner_of(self, room_id: str, via: int = 0) -> str | None:
        for n in self.nodes_seen(via):
            if room_id in n.get("meetings", []):
                return n["nodeId"]
        return None

    def index_of(self, node_id: str) -> int:
        return int(node_id.rsplit("-", 1)[1])

    def stop(self) -> None:
        for n in self.nodes:
            try:
                n.stop()
            except Exception:  # noqa: BLE001 - already gone
                pass

    def __enter__(self) -> "Cluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


class OwnRedis:
    """A redis-server of the test's own on a free port (no persistence), to hang, kill and
    start again on the same port (empty)."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.dir = free_port(), tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "OwnRedis":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _reachable("127.0.0.1", self.port), timeout=15, what="redis-server up", every=0.05)
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
