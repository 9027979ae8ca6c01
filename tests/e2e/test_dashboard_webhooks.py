"""The dashboard's webhook delivery log: deliveries to a real local receiver are listed with their
status, and Replay sends one again; the secret is in neither the page, the API nor the server's log."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from signaling.client import SignalingClient

from .conftest import shot
from .flows import UNLABELLED

pytestmark = pytest.mark.e2e
SECRET = "whsec-e2e-dashboard-0123456789"


class _Hook(BaseHTTPRequestHandler):
    got: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Hook.got.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _meeting(base_url: str, room: dict) -> None:
    """A host joins and leaves (four whereby events)."""
    key = parse_qs(urlparse(room["access"]["anonymous"]["moderator"]["url"]).query)["roomKey"][0]

    async def run() -> None:
        c = SignalingClient(base_url.replace("http", "ws") + "/ws")
        await c.connect()
        assert (await c.join(room["roomId"], "Hana", key))["type"] == "joined"
        await c.send("leave")
        await c.close()
    errors: list[BaseException] = []

    def in_thread() -> None:      # Playwright's sync API keeps a loop running in this thread
        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
    t = threading.Thread(target=in_thread)
    t.start()
    t.join(30)
    assert not errors, errors


def test_dashboard_lists_deliveries_and_replays(server, new_page):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        status, _ = server.api("PUT", "/api/v1/config/webhooks",
                               {"endpoints": [{"url": url, "secret": SECRET, "format": "whereby"}]})
        assert status == 200
        room = server.create_room(roomName="Hooked")
        _meeting(server.base_url, room)

        dash = new_page(server.base_url + "/dashboard")
        dash.get_by_test_id("api-key").fill(server.api_key)
        dash.get_by_role("button", name="Connect").click()
        log = dash.get_by_test_id("webhook-log")
        rows = log.get_by_test_id("webhook-delivery").filter(has_text=room["roomId"])
        for _ in range(40):      # delivered within a few seconds: refresh until all four show delivered
            if dash.locator(f'[data-testid=webhook-delivery][data-status=delivered]:has-text("{room["roomId"]}")'
                            ).count() == 4:
                break
            dash.get_by_role("button", name="Refresh the webhook deliveries").click()
            dash.wait_for_timeout(250)
        expect(rows).to_have_count(4)
        expect(rows.filter(has_text="room.client.joined")).to_contain_text("Delivered")
        expect(rows.filter(has_text="room.client.joined")).to_contain_text("HTTP 200")
        shot(dash, "dashboard-webhooks")
        assert dash.evaluate(UNLABELLED) == []
        before = len(_Hook.got)
        rows.filter(has_text="room.session.started").get_by_test_id("webhook-replay").click()
        expect(log.get_by_test_id("webhook-delivery").filter(has_text="room.session.started")
               .filter(has_text=room["roomId"])).to_have_count(2)
        for _ in range(40):
            if len(_Hook.got) > before:
                break
            dash.wait_for_timeout(100)
        assert _Hook.got[-1]["type"] == "room.session.started"
        assert SECRET not in dash.content()
        status, config = server.api("GET", "/api/v1/config/webhooks")
        assert SECRET not in json.dumps(config)
        assert SECRET not in server.log_path.read_text(errors="replace")
    finally:
        receiver.shutdown()
