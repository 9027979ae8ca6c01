"""Run the real server as a separate process (`python -m server serve`) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers.limits import SUITE_LIMITS_ENV
from tests.helpers.redis_server import free_port


class ServerProcess:
    def __init__(self, data_dir: Path, *, api_key: str | None = None, port: int | None = None,
                 extra_args: list[str] | None = None, env: dict[str, str] | None = None, module: str = "server"):
        self.data_dir = data_dir
        self.module = module        # what ``python -m`` runs (a test's own wiring of the app, e.g.)
        self.port = port or free_port()
        self.api_key = api_key
        self.extra_args = extra_args or []
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        args = [sys.executable, "-m", self.module, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--log-format", "json", *self.extra_args]
        if self.api_key:
            args += ["--api-key", self.api_key]
        env = {**os.environ, **SUITE_LIMITS_ENV, **self.env}
        env.pop("ANTECHAMBER_CONFIG_FILE", None)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     cwd=str(Path(__file__).resolve().parents[2]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if not self.proc:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        self.proc = None
        self._log.close()
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
