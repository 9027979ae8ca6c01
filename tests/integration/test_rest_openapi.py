"""The OpenAPI 3.1 document: valid, complete, and a generated-request smoke run with no 5xx."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request

import pytest
from openapi_spec_validator import validate

from server.http.api.openapi import add_paths
from tests.conftest import TEST_API_KEY
from tests.helpers.rest_app import running_app
from tests.helpers.server_process import ServerProcess


async def test_spec_is_served_and_valid(client):
    resp = await client.get("/api/openapi.json")   # public: no key needed
    assert resp.status == 200
    spec = await resp.json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


async def test_spec_covers_every_rest_route(client):
    spec = await (await client.get("/api/openapi.json")).json()
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m != "parameters"}
    served = set()
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "HEAD" or not path or not path.startswith(("/api/v1/rooms", "/meet/api/v1/rooms",
                                                                         "/v1/meetings")):
            continue
        served.add((route.method, path))
    assert served and served <= documented, served - documented
    codes = spec["components"]["schemas"]["RoomDeletion"]["properties"]["successCode"]["enum"]
    assert "room_with_active_meeting_scheduled_to_be_deleted" in codes and "room_closed" in codes


async def test_other_modules_can_document_their_routes(settings):
    def prepare(app):
        add_paths(app, {"/api/v1/widgets": {"get": {"operationId": "listWidgets", "responses": {
            "200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Widget"}}}}}}}},
            {"Widget": {"type": "object"}})

    async with running_app(settings, prepare=prepare) as (client, _, _):
        spec = await (await client.get("/api/openapi.json")).json()
    validate(spec)
    assert "/api/v1/widgets" in spec["paths"] and "Widget" in spec["components"]["schemas"]
    assert "/api/v1/rooms" in spec["paths"]


class HealthProbe:
    """Asks ``/healthz`` every 0.2 s in a thread while the block runs: how many answered 200, what failed."""

    def __init__(self, url: str) -> None:
        self.url, self.answered, self.failures = url, 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as resp:
                    assert resp.status == 200 and json.load(resp)["status"] == "ok"
                self.answered += 1
            except Exception as exc:  # noqa: BLE001
                self.failures.append(repr(exc))

    def __enter__(self) -> "HealthProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def live_server(tmp_path):
    # the REST rate limit off: generated requests are to reach the handlers, not a 429
    with ServerProcess(tmp_path / "data", api_key=TEST_API_KEY,
                       env={"ANTECHAMBER_REST_RATE_LIMIT_PER_MINUTE": "0"}) as server:
        yield server


@pytest.mark.timeout(120)
def test_generated_requests_never_get_a_server_error(live_server, tmp_path):
    """Schemathesis sends schema-derived valid and invalid requests to every operation."""
    report = tmp_path / "st.json"
    args = [sys.executable, "-m", "schemathesis.cli", "run", f"{live_server.url}/api/openapi.json",
            "--url", live_server.url, "--checks", "not_a_server_error", "--max-examples", "5",
            "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "1", "--no-shrink",
            "--generation-database", "none",
            "-H", f"Authorization: Bearer {TEST_API_KEY}", "--no-color",
            "--report", "ndjson", "--report-ndjson-path", str(report)]
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false"}
    probes = HealthProbe(live_server.url + "/healthz")
    with probes:
        run = subprocess.run(args, capture_output=True, text=True, timeout=110, env=env, cwd=str(tmp_path))
    out = run.stdout + run.stderr
    assert probes.answered >= 3 and not probes.failures, (probes.answered, probes.failures[:5])   # throughout
    assert run.returncode == 0, out[-6000:]
    assert "Server error" not in out and "500 Internal" not in out
    m = re.search(r"(\d+) generated", out)
    assert m and int(m.group(1)) > 50, out[-3000:]
    # the server logged no unhandled error
    assert "unhandled error" not in live_server.output()
    with urllib.request.urlopen(live_server.url + "/healthz") as resp:
        assert json.load(resp)["status"] == "ok"
