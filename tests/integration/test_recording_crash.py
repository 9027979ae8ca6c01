"""A server process recording a live meeting is killed (SIGKILL) or stopped (SIGTERM);
the file plays, and the next server start fixes the recording's status."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers.media_check import ffmpeg_decode
from tests.helpers.redis_server import free_port
from tests.helpers.server_process import ServerProcess

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


class RecordingServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log = open(data_dir.parent / "recording-server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.recording_server", "--data-dir", str(data_dir),
             "--port", str(free_port()), "--api-key", TEST_API_KEY],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log)

    def wait_recording(self, timeout: float = 40.0) -> str:
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                buf += os.read(self.proc.stdout.fileno(), 4096)
                for line in buf.decode(errors="replace").splitlines():
                    if line.startswith("RECORDING "):
                        return line.split()[1]
        raise AssertionError("the server never started recording:\n" + self.output())

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir.parent / "recording-server.log").read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.log.close()


def wait_clusters(path: Path, count: int, timeout: float = 30.0) -> None:
    """Wait until the file has grown `count` times (each cluster holds ~1 s of media)."""
    sizes: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(sizes) < count:
        assert time.monotonic() < deadline, f"file grew only {len(sizes)} times"
        if path.exists():
            sizes.add(path.stat().st_size)
        time.sleep(0.02)


def api(server: ServerProcess, path: str) -> tuple[int, bytes]:
    req = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {TEST_API_KEY}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def check_plays(data: bytes, tmp: Path) -> None:
    f = tmp / "download.mkv"
    f.write_bytes(data)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                            str(f)], capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0 and sorted(probe.stdout.split()) == ["opus", "vp8"], probe.stderr
    run = ffmpeg_decode(f)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


def test_kill_9_while_recording(tmp_path):
    data_dir = tmp_path / "data"
    rs = RecordingServer(data_dir)
    try:
        rid = rs.wait_recording()
        path = data_dir / "recordings" / f"{rid}.mkv"
        wait_clusters(path, 3)
        rs.proc.send_signal(signal.SIGKILL)
        rs.proc.wait(10)
    finally:
        rs.close()
    with ServerProcess(data_dir, api_key=TEST_API_KEY) as server:
        status, body = api(server, f"/api/v1/recordings/{rid}")
        assert status == 200
        rec = json.loads(body)
        assert rec["status"] == "failed" and rec["duration"] > 1.0 and rec["size"] == path.stat().st_size
        status, data = api(server, f"/api/v1/recordings/{rid}/media")
        assert status == 200 and len(data) == rec["size"]
    check_plays(data, tmp_path)


def test_sigterm_finalizes_the_recording(tmp_path):
    data_dir = tmp_path / "data"
    rs = RecordingServer(data_dir)
    try:
        rid = rs.wait_recording()
        wait_clusters(data_dir / "recordings" / f"{rid}.mkv", 3)
        t0 = time.monotonic()
        rs.proc.send_signal(signal.SIGTERM)
        rs.proc.wait(20)
        took = time.monotonic() - t0
    finally:
        rs.close()
    assert took < 8, took  # finalizing takes < 5 s; the rest is process shutdown
    with ServerProcess(data_dir, api_key=TEST_API_KEY) as server:
        status, body = api(server, f"/api/v1/recordings/{rid}")
        rec = json.loads(body)
        assert status == 200 and rec["status"] == "complete", rec
        status, data = api(server, f"/api/v1/recordings/{rid}/media")
        assert status == 200
    check_plays(data, tmp_path)
