"""The operator CLI (server/ops, docs/cli.md) run as a user runs it: ``python -m server <command>``
in a subprocess against a real server process, with the key from the data directory or the
environment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.config import Settings
from server.store import open_store
from server.store.records import Recording, Room
from tests.helpers.redis_server import free_port
from tests.helpers.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
REC_ID = "rec_cli_download"
REC_BYTES = 3 * 1024 * 1024 + 12345


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60.0):
    full = {k: v for k, v in os.environ.items() if k != "ANTECHAMBER_API_KEY"}   # only the key the test gives
    full.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, env=full,
                          cwd=str(cwd or ROOT), timeout=timeout)


def _seed(data_dir: Path, payload: bytes) -> None:
    async def go() -> None:
        store = await open_store(Settings(data_dir=data_dir))
        try:
            await store.create_room(Room(room_id="seeded-room", room_name="Seeded", creation_date=1))
            await store.create_recording(Recording(
                recording_id=REC_ID, room_id="seeded-room", status="complete", start_date=1_700_000_000_000,
                end_date=1_700_000_060_000, duration=60.0, size=len(payload), filename=f"{REC_ID}.mkv"))
        finally:
            await store.close()
    (data_dir / "recordings").mkdir(parents=True)
    (data_dir / "recordings" / f"{REC_ID}.mkv").write_bytes(payload)
    asyncio.run(go())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server that generated its own API key (in credentials.json), with one finished recording."""
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    payload = os.urandom(REC_BYTES)
    _seed(data_dir, payload)
    proc = ServerProcess(data_dir).start()
    proc.payload = payload
    try:
        yield proc
    finally:
        proc.stop()


def _conn(server) -> list[str]:
    return ["--url", server.url, "--data-dir", str(server.data_dir)]


def test_rooms_create_list_rotate_delete(server):
    made = cli("rooms", "create", "Weekly sync", "--locked", "--json", *_conn(server))
    assert made.returncode == 0, made.stderr
    room = json.loads(made.stdout)
    room_id, old_host = room["roomId"], room["access"]["anonymous"]["moderator"]["url"]
    assert room["roomName"] == "Weekly sync" and room["isLocked"] is True

    listed = cli("rooms", "list", *_conn(server))
    assert listed.returncode == 0, listed.stderr
    assert room_id in listed.stdout and "Weekly sync" in listed.stdout and "Seeded" in listed.stdout

    key = json.loads((server.data_dir / "credentials.json").read_text())["api_keys"][0]
    rotated = cli("keys", "rotate", room_id, "--url", server.url, env={"ANTECHAMBER_API_KEY": key})
    assert rotated.returncode == 0, rotated.stderr
    new_host = next(line.split()[-1] for line in rotated.stdout.splitlines() if "host link" in line)
    assert new_host.startswith(server.url) and new_host != old_host
    assert key not in rotated.stdout + rotated.stderr    # the API key is never printed

    gone = cli("rooms", "delete", room_id, *_conn(server))
    assert gone.returncode == 0, gone.stderr
    assert room_id not in cli("rooms", "list", *_conn(server)).stdout
    again = cli("rooms", "delete", room_id, *_conn(server))
    assert again.returncode == 1 and "404" in again.stderr and "Traceback" not in again.stderr


def test_wrong_or_missing_key_is_one_line(server, tmp_path):
    wrong = cli("rooms", "list", "--url", server.url, env={"ANTECHAMBER_API_KEY": "ak_wrong_wrong_wrong_wrong"})
    assert wrong.returncode == 1 and "401" in wrong.stderr and "invalid API key" in wrong.stderr
    none = cli("rooms", "list", "--url", server.url, "--data-dir", str(tmp_path))
    assert none.returncode == 1 and "no API key" in none.stderr and "Traceback" not in none.stderr


def test_recording_download_interrupted_and_resumed(server, tmp_path):
    listed = cli("recordings", "list", *_conn(server))
    assert listed.returncode == 0 and REC_ID in listed.stdout and "complete" in listed.stdout, listed.stderr

    out = tmp_path / "meeting.mkv"
    part = tmp_path / "meeting.mkv.part"
    args = [sys.executable, "-m", "server", "recordings", "download", REC_ID, "-o", str(out), *_conn(server)]
    env = {k: v for k, v in os.environ.items() if k != "ANTECHAMBER_API_KEY"}
    slow = subprocess.Popen(args + ["--limit-rate", "300k"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=str(ROOT))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not part.exists() or part.stat().st_size < 512 * 1024):
        assert slow.poll() is None, slow.communicate()
        time.sleep(0.05)
    slow.send_signal(signal.SIGINT)                 # the operator presses Ctrl-C
    _, err = slow.communicate(timeout=30)
    assert slow.returncode == 130, err
    cut = part.stat().st_size
    assert 512 * 1024 <= cut < REC_BYTES and not out.exists()

    resumed = subprocess.run(args, capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {out} at byte {cut}" in resumed.stdout
    assert out.read_bytes() == server.payload and not part.exists()

    refused = cli("recordings", "download", REC_ID, "-o", str(out), *_conn(server))
    assert refused.returncode == 1 and "exists" in refused.stderr


def test_doctor_healthy_then_each_problem_named(server, tmp_path):
    good = cli("doctor", *_conn(server))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "no problems found" in good.stdout and "integrity ok" in good.stdout

    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("0.0.0.0", 0))
    port = held.getsockname()[1]
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))                  # a "STUN server" that never answers
    try:
        bad = cli("doctor", *_conn(server), "--json", "--redis-url", f"redis://127.0.0.1:{free_port()}/0",
                  "--udp-port-range", f"{port}-{port}", "--ice-server",
                  f"stun:127.0.0.1:{silent.getsockname()[1]}",
                  env={"ANTECHAMBER_API_KEY": "ak_wrong_wrong_wrong_wrong"})
    finally:
        held.close()
        silent.close()
    assert bad.returncode == 1, bad.stdout + bad.stderr
    failed = {f["check"]: f["detail"] for f in json.loads(bad.stdout) if f["status"] == "FAIL"}
    assert set(failed) == {"redis", "udp ports", "ice server", "api key"}, failed
    assert "0 of 1 free" in failed["udp ports"] and "no answer" in failed["ice server"]

    down = cli("doctor", "--url", f"http://127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "none"))
    assert down.returncode == 1 and "does not exist" in down.stdout and "cannot reach the server" in down.stdout
