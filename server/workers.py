"""`antechamber serve --workers N`: a supervisor and N worker processes on one machine
(docs/architecture.md "Workers on one machine").

The supervisor binds nothing itself. It starts N copies of the same command line, each with
``--workers 1`` and its own ``--node-id`` (``{base}-w{i}``), its own share of
``--udp-port-range`` (split evenly, in order) and the cluster's Redis URL; the workers share the
HTTP port with SO_REUSEPORT (the kernel spreads new connections among them) and form a cluster on
that Redis like nodes on separate machines.

Without a Redis URL the supervisor starts a private ``redis-server`` for them: no TCP port, a
unix socket in ``{data_dir}/redis/`` (mode 0700), its data kept there as an append-only file
(fsync every second) because the store (rooms, members, recordings) lives in it. No
``redis-server`` installed: a one-line error (exit 2).

Signals: SIGTERM and SIGINT are forwarded to every worker (each drains and exits), then the
supervisor stops the private Redis and exits (0 when every worker exited cleanly). The workers run
in their own process group, so a terminal's Ctrl-C reaches them once, through the supervisor, and
they die with it (PR_SET_PDEATHSIG) if it is killed.

Restarts: a worker that exits while the supervisor is not stopping is logged (``worker exited``,
error level, with its exit code) and restarted under a new node id (``{base}-w{i}.{n}``: the
dead node's leases and registry entry expire on their own, the new process never mistakes them
for its own) after 1, 2, 4 ... 30 s (reset once it ran a minute); meetings it owned are taken
over by the other nodes in the meantime. A worker that exits with 2 (a configuration error) is
not restarted: the supervisor stops the others and exits 2.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from .config import ConfigError, Settings, default_node_id

log = structlog.get_logger("antechamber.workers")

SHUTDOWN_SECONDS = 40.0          # a worker drains within 30 s; then SIGKILL
RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_SECONDS = 60.0            # a worker that ran this long restarts again after the first delay
MIN_PORTS_PER_WORKER = 16
REDIS_START_SECONDS = 15.0
SOCKET_PATH_MAX = 100            # sun_path is 108 bytes on Linux


def split_ports(ports: tuple[int, int] | None, n: int) -> list[tuple[int, int] | None]:
    """N disjoint, equal, consecutive shares of a UDP port range (the rest of the range unused)."""
    if ports is None:
        return [None] * n
    lo, hi = ports
    size = (hi - lo + 1) // n
    if size < MIN_PORTS_PER_WORKER:
        raise ConfigError(f"udp_port_range {lo}-{hi} is too small for {n} workers "
                          f"(at least {MIN_PORTS_PER_WORKER} ports each)")
    return [(lo + i * size, lo + (i + 1) * size - 1) for i in range(n)]


def _die_with_parent() -> None:
    """SIGTERM this process when its parent dies (Linux PR_SET_PDEATHSIG; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def follow_supervisor(pid: int) -> None:
    """In a worker: get SIGTERM when the supervisor dies, or exit if it is already gone."""
    _die_with_parent()
    if os.getppid() != pid:
        raise SystemExit(1)


def _ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(path))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PrivateRedis:
    """A redis-server for this machine's workers only: a unix socket in the data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir.resolve() / "redis"
        self.socket = self.dir / "redis.sock"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def check(self) -> str:
        """The redis-server executable, or ConfigError saying why none can be started."""
        exe = shutil.which("redis-server")
        if not exe:
            raise ConfigError("--workers needs --redis-url (or redis-server installed, to start a private one)")
        if len(str(self.socket)) > SOCKET_PATH_MAX:
            raise ConfigError(f"the data directory path is too long for a unix socket ({self.socket}); "
                              "use a shorter --data-dir or --redis-url")
        if _ping(self.socket):
            raise ConfigError(f"a Redis already answers on {self.socket}: is another antechamber using this "
                              "data directory?")
        return exe

    def start(self, exe: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.proc = subprocess.Popen(
            [exe, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--daemonize", "no", "--logfile", str(self.dir / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent,  # no thread runs yet: before asyncio.run
        )
        deadline = time.monotonic() + REDIS_START_SECONDS
        while not _ping(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"the private redis-server did not start (see {self.dir / 'redis.log'})")
            time.sleep(0.05)
        log.info("private redis started", socket=str(self.socket), pid=self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@dataclass
class _Slot:
    index: int
    ports: tuple[int, int] | None
    proc: asyncio.subprocess.Process | None = None
    node_id: str = ""
    generation: int = 0
    failures: int = 0
    started: float = 0.0


class Supervisor:
    def __init__(self, settings: Settings, argv: list[str]) -> None:
        self.settings = settings
        self.argv = list(argv)
        if settings.port == 0:
            raise ConfigError("--workers needs a fixed --port (they share it)")
        self.base = settings.node_id or default_node_id()
        self.slots = [_Slot(i, p) for i, p in enumerate(split_ports(settings.udp_ports, settings.workers))]
        self.redis = None if settings.redis_url else PrivateRedis(settings.data_dir)
        self.redis_url = settings.redis_url
        self.stopping = asyncio.Event()
        self.exit_code = 0

    def prepare(self) -> None:
        """Start the private Redis when needed (ConfigError: a one-line reason)."""
        if self.redis is not None:
            self.redis.start(self.redis.check())
            self.redis_url = self.redis.url

    def command(self, slot: _Slot) -> list[str]:
        args = [sys.executable, "-m", "server", *self.argv, "--workers", "1", "--node-id", slot.node_id,
                "--redis-url", self.redis_url, "--worker-index", str(slot.index),
                "--supervisor-pid", str(os.getpid())]
        if slot.ports:
            args += ["--udp-port-range", f"{slot.ports[0]}-{slot.ports[1]}"]
        return args

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.forward, sig)
        redis_watch = asyncio.ensure_future(self._watch_redis()) if self.redis and self.redis.proc else None
        try:
            for slot in self.slots:
                await self._spawn(slot)
            await asyncio.gather(*(self._watch(slot) for slot in self.slots))
            if redis_watch is not None:
                self.stopping.set()
                await asyncio.to_thread(self.redis.stop)
                await redis_watch
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return self.exit_code

    async def _watch_redis(self) -> None:
        proc = self.redis.proc
        code = await asyncio.get_running_loop().run_in_executor(None, proc.wait)
        if not self.stopping.is_set():
            log.error("the private redis-server exited; stopping the workers", code=code)
            self.exit_code = 1
            self.forward(signal.SIGTERM)

    async def _spawn(self, slot: _Slot) -> None:
        slot.node_id = f"{self.base}-w{slot.index}" + (f".{slot.generation}" if slot.generation else "")
        slot.proc = await asyncio.create_subprocess_exec(*self.command(slot), stdin=subprocess.DEVNULL,
                                                         process_group=0)
        slot.started = time.monotonic()
        log.info("worker started", index=slot.index, node=slot.node_id, pid=slot.proc.pid,
                 udp_ports=f"{slot.ports[0]}-{slot.ports[1]}" if slot.ports else "any")

    async def _watch(self, slot: _Slot) -> None:
        while True:
            assert slot.proc is not None
            code = await slot.proc.wait()
            if self.stopping.is_set():
                log.info("worker exited", index=slot.index, node=slot.node_id, code=code)
                if code != 0 and not self.exit_code:
                    self.exit_code = 1
                return
            if code == 2:
                log.error("worker exited with a configuration error; not restarted, stopping the others",
                          index=slot.index, node=slot.node_id, code=code)
                self.exit_code = 2
                self.forward(signal.SIGTERM)
                return
            ran = time.monotonic() - slot.started
            slot.failures = 0 if ran >= STABLE_SECONDS else slot.failures + 1
            delay = RESTART_DELAYS[min(max(slot.failures - 1, 0), len(RESTART_DELAYS) - 1)]
            log.error("worker exited; restarting it", index=slot.index, node=slot.node_id, code=code,
                      ran_seconds=round(ran, 1), restart_in_seconds=delay)
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
            slot.generation += 1
            await self._spawn(slot)

    def forward(self, sig: int) -> None:
        """Pass SIGTERM/SIGINT to every worker; SIGKILL the ones still there after SHUTDOWN_SECONDS."""
        first = not self.stopping.is_set()
        self.stopping.set()
        log.info("stopping workers", signal=signal.Signals(sig).name)
        for slot in self.slots:
            if slot.proc and slot.proc.returncode is None:
                slot.proc.send_signal(sig)
        if first:
            asyncio.get_running_loop().call_later(SHUTDOWN_SECONDS, self._kill_rest)

    def _kill_rest(self) -> None:
        for slot in self.slots:
            if slot.proc and slot.proc.returncode is None:
                log.error("worker did not stop in time; killing it", index=slot.index, node=slot.node_id)
                slot.proc.kill()


def supervise(settings: Settings, argv: list[str]) -> int:
    """Run the workers until they exit; ConfigError (e.g. no Redis to be had) before any starts."""
    supervisor = Supervisor(settings, argv)
    supervisor.prepare()
    try:
        return asyncio.run(supervisor.run())
    finally:
        if supervisor.redis is not None:
            supervisor.redis.stop()
