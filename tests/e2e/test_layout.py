"""Small screens and keyboard users: controls fit, are labelled and reachable."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .flows import UNLABELLED, guest_url, host_url, in_meeting, join

pytestmark = pytest.mark.e2e


def test_phone_sized_meeting_fits_and_every_control_is_labelled(server, new_page):
    room = server.create_room(roomName="Phone", isLocked=False)
    page = new_page(host_url(room), width=390, height=844)
    expect(page.get_by_test_id("preview-camera")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(UNLABELLED) == []
    shot(page, "phone-join")
    join(page, "Pat Phone")
    in_meeting(page, tiles=1)
    assert page.evaluate(UNLABELLED) == []
    for testid in ("toggle-mic", "toggle-camera", "leave", "more"):  # lock and the rest: in "more"
        box = page.get_by_test_id(testid).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844, testid
    shot(page, "phone-meeting")


def test_a_keyboard_user_can_join_and_mute(server, new_page):
    room = server.create_room(roomName="Keyboard", isLocked=False)
    page = new_page(guest_url(room))
    expect(page.get_by_test_id("display-name")).to_be_focused()
    page.keyboard.type("Kim Keys")
    page.keyboard.press("Enter")
    in_meeting(page, tiles=1)
    mic = page.get_by_test_id("toggle-mic")
    expect(mic).to_have_attribute("aria-pressed", "true")
    expect(mic).to_be_focused()  # focus moves to the meeting's first control
    page.keyboard.press("Enter")
    expect(mic).to_have_attribute("aria-pressed", "false")
    expect(mic).to_have_attribute("aria-label", "Unmute microphone")
    tile = page.get_by_test_id("tile").first
    expect(tile).to_have_attribute("data-audio-muted", "true")
    # Leaving shows the end view; rejoining reloads the page with the name remembered.
    page.get_by_test_id("leave").click()
    expect(page.get_by_test_id("end-view")).to_have_attribute("data-reason", "left")
    shot(page, "end-left")
    page.get_by_test_id("rejoin").click()
    expect(page.get_by_test_id("display-name")).to_have_value("Kim Keys")
    expect(page.get_by_test_id("join")).to_be_focused()
    page.keyboard.press("Enter")
    in_meeting(page, tiles=1)
