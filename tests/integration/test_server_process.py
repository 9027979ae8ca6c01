"""The real server process: first start, key reuse, restart, logs, readiness."""

from __future__ import annotations

import json
import re
import stat
import urllib.request

import pytest

from tests.helpers.redis_server import free_port
from tests.helpers.server_process import ServerProcess

pytestmark = pytest.mark.timeout(120)


def _get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def _post(url: str, body: dict, headers: dict):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def test_first_start_generates_key_then_reuses_it(tmp_path):
    data = tmp_path / "data"
    srv = ServerProcess(data).start()
    try:
        out = srv.output()
        keys = re.findall(r"\b(ak_[A-Za-z0-9_-]{20,})\b", out)
        assert keys, out
        key = keys[0]
        assert f"Authorization: Bearer {key}" in out  # the one-line curl example
        creds = data / "credentials.json"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        status, body = _get(srv.url + "/healthz")
        assert status == 200 and body["status"] == "ok"
        status, body = _get(srv.url + "/readyz")
        assert status == 200
        # the key is printed once, never logged
        log_lines = [line for line in out.splitlines() if line.startswith("{")]
        assert log_lines, "expected JSON log lines"
        for line in log_lines:
            json.loads(line)
            assert key not in line
    finally:
        srv.stop()
    before = (data / "credentials.json").read_text()
    srv2 = ServerProcess(data).start()
    try:
        status, _ = _get(srv2.url + "/healthz")
        assert status == 200
    finally:
        srv2.stop()
    assert "Generated an API key" not in srv2.output()
    assert key not in srv2.output()
    assert (data / "credentials.json").read_text() == before


def test_rooms_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    key = "restart-test-key-0123456789"
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    with ServerProcess(data, api_key=key, port=port) as srv:
        status, room = _post(srv.url + "/api/v1/rooms", {"roomName": "Survivor", "isLocked": True}, headers)
        assert status == 201
    with ServerProcess(data, api_key=key, port=port) as srv:
        status, again = _get(f"{srv.url}/api/v1/rooms/{room['roomId']}", headers)
        assert status == 200
        assert again["roomName"] == "Survivor" and again["isLocked"] is True
        assert again["access"] == room["access"]  # same derived links after restart
