"""The dashboard: API key, create a locked room, its links work, delete it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .flows import UNLABELLED, in_meeting, join, knock_item, knock_state

pytestmark = pytest.mark.e2e


def test_dashboard_creates_a_locked_room_whose_links_work(server, new_page):
    dash = new_page(server.base_url + "/dashboard")
    dash.get_by_test_id("api-key").fill("not-the-right-key-at-all")
    dash.get_by_role("button", name="Connect").click()
    expect(dash.locator("#key-error")).to_contain_text("not accepted")

    dash.get_by_test_id("api-key").fill(server.api_key)
    dash.get_by_role("button", name="Connect").click()
    expect(dash.get_by_test_id("create-room")).to_be_visible()
    dash.get_by_test_id("room-name").fill("Board meeting")
    expect(dash.get_by_test_id("locked")).to_be_checked()
    dash.get_by_test_id("create-room").click()

    row = dash.get_by_test_id("room-row").filter(has_text="Board meeting")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Locked")
    shot(dash, "dashboard", docs=True)
    assert dash.evaluate(UNLABELLED) == []
    room_id = row.get_attribute("data-room-id")
    guest_link = row.get_by_test_id("guest-link").input_value()
    host_link = row.get_by_test_id("host-link").input_value()
    assert "roomKey=" in host_link and "roomKey=" not in guest_link
    status, room = server.api("GET", f"/api/v1/rooms/{room_id}")
    assert status == 200 and room["isLocked"] is True and room["roomName"] == "Board meeting"

    # Unlock and lock again from the dashboard.
    row.get_by_test_id("room-lock-toggle").click()
    row = dash.get_by_test_id("room-row").filter(has_text="Board meeting")
    expect(row.get_by_test_id("room-lock-toggle")).to_have_text("Lock")
    assert server.api("GET", f"/api/v1/rooms/{room_id}")[1]["isLocked"] is False
    row.get_by_test_id("room-lock-toggle").click()
    expect(row.get_by_test_id("room-lock-toggle")).to_have_text("Unlock")
    assert server.api("GET", f"/api/v1/rooms/{room_id}")[1]["isLocked"] is True

    host = new_page(host_link)
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    expect(host.locator("#room-title")).to_have_text("Board meeting")
    guest = new_page(guest_link)
    join(guest, "Gus Guest")
    knock_state(guest, "waiting")
    knock_item(host, "Gus Guest").get_by_test_id("admit").click()
    in_meeting(guest, tiles=2)

    # The key stays in this tab only: a reload keeps the session, and the room can be deleted.
    dash.reload()
    row = dash.get_by_test_id("room-row").filter(has_text="Board meeting")
    expect(row).to_have_count(1)
    row.get_by_test_id("delete-room").click()
    row.get_by_test_id("delete-room").click()  # second click confirms
    expect(dash.get_by_test_id("room-row").filter(has_text="Board meeting")).to_have_count(0)
    status, _ = server.api("GET", f"/api/v1/rooms/{room_id}")
    assert status == 404
    # Deleting the room ended the live meeting for its participants.
    expect(guest.get_by_test_id("end-view")).to_have_attribute("data-reason", "room_deleted")
    assert dash.errors == []


def test_room_pages_carry_no_referrer_and_do_not_shadow_the_api(server, new_page):
    page = new_page()
    resp = page.goto(server.base_url + "/some-room?roomKey=abc")
    assert resp.status == 200
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    assert page.goto(server.base_url + "/healthz").status == 200
    assert page.goto(server.base_url + "/static/../server/app.py").status == 404
    # Two-segment API paths still reach the API, not the room's recordings page.
    resp = page.goto(server.base_url + "/v1/recordings")
    assert resp.status == 401 and resp.headers["content-type"].startswith("application/json")
    resp = page.goto(server.base_url + "/some-room/recordings?recordingKey=abc")
    assert resp.status == 200 and resp.headers["referrer-policy"] == "no-referrer"
    resp = page.goto(server.base_url + "/static/js/protocol.js")
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/javascript")


def test_landing_page_takes_a_room_link_to_the_room(server, new_page):
    room = server.create_room(roomName="From the landing page", isLocked=False)
    page = new_page(server.base_url + "/")
    page.get_by_label("Room name or link").fill(room["access"]["anonymous"]["speaker"]["url"])
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_test_id("display-name")).to_be_visible()
    assert page.url.rstrip("/").endswith(room["roomId"])
    shot(page, "landing-to-room")
