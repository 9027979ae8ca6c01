"""End-to-end fixtures: a real server process and Debian's Chromium driven by Playwright.

The server runs as ``python -m server serve`` on a free port with a temporary data
directory (one per test module). Chromium gets a fake camera and microphone.
Screenshots land in ``test-artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.limits import SUITE_LIMITS_ENV

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--autoplay-policy=no-user-gesture-required",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
TIMEOUT_MS = 20_000  # generous: the CI box is a shared 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base_url: str
    api_key: str
    proc: subprocess.Popen
    log_path: Path

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, (json.loads(raw) if raw else None)

    def create_room(self, **fields) -> dict:
        body = {"roomName": fields.pop("roomName", "E2E room"),
                "autoDeletionDate": int((time.time() + 24 * 3600) * 1000)}
        body.update(fields)
        status, room = self.api("POST", "/api/v1/rooms", body)
        assert status == 201, (status, room)
        return room

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@pytest.fixture(scope="module")
def server():
    data_dir = Path(tempfile.mkdtemp(prefix="antechamber-e2e-"))
    port = _free_port()
    api_key = "e2e-" + secrets.token_urlsafe(24)
    log_path = data_dir / "server.log"
    log = open(log_path, "wb")
    env = dict(os.environ, PYTHONUNBUFFERED="1", **SUITE_LIMITS_ENV)
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port), "--host", "127.0.0.1",
         "--data-dir", str(data_dir), "--api-key", api_key, "--log-format", "json"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    srv = Server(base, api_key, proc, log_path)
    deadline = time.monotonic() + 30
    while True:  # wait for readiness (a condition, polled), not a fixed delay
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{srv.log_tail()}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                if resp.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server not ready after 30 s:\n{srv.log_tail()}")
        time.sleep(0.1)
    yield srv
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail("CI: Debian's chromium must be installed at /usr/bin/chromium (tests/run.sh does it)")
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, server):
    """Open pages in separate browser contexts (separate people); closed after the test."""
    contexts = []

    def open_page(url: str | None = None, *, width: int = 1280, height: int = 800, locale: str = "en-US"):
        # The browser's language picks the room page's (i18n.js): English unless a test asks.
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                  permissions=["camera", "microphone"])
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        if url:
            page.goto(url)
        return page

    yield open_page
    for ctx in contexts:
        ctx.close()


def shot(page, name: str, *, docs: bool = False) -> Path:
    """Save a screenshot as a test artifact (and into docs/screenshots when asked)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    if docs and os.environ.get("ANTECHAMBER_UPDATE_DOCS_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return path
