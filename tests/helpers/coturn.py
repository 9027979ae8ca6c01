"""A real coturn (Debian's `turnserver`) on loopback for tests, in the use-auth-secret scheme.

Its own configuration file in a temporary directory (no system config, no database outside
it); ready when it answers a STUN binding request on its UDP port (polled, no fixed delay).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
MAGIC_COOKIE = 0x2112A442


def free_udp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def stun_answers(port: int, timeout: float = 0.5) -> bool:
    """True when a STUN binding request to 127.0.0.1:port gets a binding success response."""
    txid = os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(struct.pack("!HHI", 0x0001, 0, MAGIC_COOKIE) + txid, ("127.0.0.1", port))
            data, _ = s.recvfrom(2048)
        except OSError:
            return False
    return len(data) >= 20 and struct.unpack("!H", data[:2])[0] == 0x0101 and data[8:20] == txid


class Coturn:
    def __init__(self, secret: str, realm: str = "antechamber.test") -> None:
        self.secret = secret
        self.realm = realm
        self.port = free_udp_port()
        self.min_port = random.randrange(40000, 59000, 100)  # relay ports: a range of their own
        self.max_port = self.min_port + 99
        self.dir = Path(tempfile.mkdtemp(prefix="antechamber-coturn-"))
        self.log_path = self.dir / "turnserver.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def config(self) -> str:
        return "\n".join([
            "listening-ip=127.0.0.1", f"listening-port={self.port}",
            "relay-ip=127.0.0.1", f"min-port={self.min_port}", f"max-port={self.max_port}",
            "use-auth-secret", f"static-auth-secret={self.secret}", f"realm={self.realm}",
            "fingerprint", "no-cli", "no-tls", "no-dtls", "allow-loopback-peers", "no-multicast-peers",
            f"userdb={self.dir / 'turndb'}", f"pidfile={self.dir / 'turnserver.pid'}",
            "simple-log", "verbose", "log-file=stdout", "",
        ])

    def start(self, timeout: float = 15.0) -> "Coturn":
        conf = self.dir / "turnserver.conf"
        conf.write_text(self.config())
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([TURNSERVER, "-c", str(conf)], stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + timeout
        while not stun_answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"turnserver did not come up:\n{self.output()}")
        return self

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            self.proc = None
            self._log.close()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def require_coturn() -> None:
    if not Path(TURNSERVER).exists():
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail("CI: Debian's coturn must be installed (tests/run.sh does it)")
        pytest.skip("Debian's coturn (turnserver) is not installed")
