"""Locked rooms in the browser: knock, admit, reject, hold, cancel (signaling only)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .flows import guest_joins, guest_url, host_url, hosted_room, in_meeting, join, knock_item, knock_state

pytestmark = pytest.mark.e2e


def _answer_knock(server, new_page, room_name: str, guest_name: str, answer: str, message: str):
    """A guest knocks on a locked room with the host in it; the host answers with a message.
    Returns the host's page, the guest's page and the host's knock item."""
    room, host = hosted_room(server, new_page, room_name, isLocked=True)
    guest = guest_joins(new_page, room, guest_name)
    item = knock_item(host, guest_name)
    item.get_by_test_id("knock-message").fill(message)
    item.get_by_test_id(answer).click()
    return host, guest, item


def test_guest_knocks_and_host_lets_them_in(server, new_page):
    room = server.create_room(roomName="Knock and admit", isLocked=True)
    host = new_page(host_url(room))
    expect(host.get_by_test_id("role")).to_have_text("Host")
    # The device check shows the camera and lists the devices before joining.
    host.wait_for_function("() => document.querySelector('#preview-video').videoWidth > 0")
    expect(host.get_by_test_id("camera-select").locator("option")).not_to_have_count(0)
    expect(host.get_by_test_id("camera-select")).to_be_enabled()
    host.wait_for_function("() => +document.querySelector('#mic-meter').getAttribute('aria-valuenow') > 0")
    shot(host, "join", docs=True)
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    expect(host.get_by_test_id("lock-toggle")).to_have_attribute("aria-pressed", "true")

    guest = new_page(guest_url(room))
    expect(guest.get_by_test_id("role")).to_have_text("Guest")
    join(guest, "Gus Guest")
    knock_state(guest, "waiting")
    expect(guest.get_by_test_id("knock-status")).to_contain_text("Waiting for the host")
    shot(guest, "waiting", docs=True)

    item = knock_item(host, "Gus Guest")
    expect(item).to_be_visible()
    expect(host.get_by_test_id("knock-badge")).to_have_text("1")
    host.wait_for_function("() => window.antechamber.state.knockSounds >= 1")  # the chime rang
    shot(host, "meeting-host-knock", docs=True)
    item.get_by_test_id("admit").click()

    in_meeting(guest, tiles=2)
    in_meeting(host, tiles=2)
    expect(host.get_by_test_id("knock-item")).to_have_count(0)
    expect(host.get_by_test_id("knock-badge")).to_be_hidden()
    expect(guest.get_by_test_id("tile").filter(has_text="Hana Host")).to_have_count(1)
    # A guest gets no host controls.
    expect(guest.get_by_test_id("lock-toggle")).to_be_hidden()
    expect(guest.get_by_test_id("knock-panel")).to_be_hidden()
    assert host.errors == [] and guest.errors == []


def test_rejected_guest_sees_the_reason(server, new_page):
    host, guest, _ = _answer_knock(server, new_page, "Reject", "Rex Rejected", "reject",
                                   "This meeting is for the board only.")

    knock_state(guest, "rejected")
    expect(guest.get_by_test_id("knock-status")).to_contain_text("did not let you in")
    expect(guest.get_by_test_id("hold-message")).to_have_text("This meeting is for the board only.")
    shot(guest, "waiting-rejected")
    # Knocking again waits out the server's cooldown, shown as a countdown.
    expect(guest.get_by_test_id("knock-again")).to_be_disabled()
    expect(guest.get_by_test_id("knock-again")).to_contain_text(re.compile(r"\(\d+ s\)"))
    expect(host.get_by_test_id("knock-item")).to_have_count(0)
    in_meeting(host, tiles=1)


def test_held_guest_sees_the_message_and_can_still_be_admitted(server, new_page):
    _, guest, item = _answer_knock(server, new_page, "Hold", "Holly Held", "hold",
                                   "Two minutes, we are finishing the last topic.")

    knock_state(guest, "held")
    expect(guest.get_by_test_id("hold-message")).to_have_text("Two minutes, we are finishing the last topic.")
    shot(guest, "waiting-held", docs=True)
    expect(item).to_have_attribute("data-state", "held")
    item.get_by_test_id("admit").click()
    in_meeting(guest, tiles=2)


def test_cancelled_knock_disappears_from_the_host_list(server, new_page):
    room, host = hosted_room(server, new_page, "Cancel", isLocked=True)
    guest = guest_joins(new_page, room, "Carl Cancel")
    expect(knock_item(host, "Carl Cancel")).to_be_visible()
    guest.get_by_test_id("cancel-knock").click()
    knock_state(guest, "cancelled")
    expect(host.get_by_test_id("knock-item")).to_have_count(0)
    expect(host.get_by_test_id("knock-panel")).to_be_hidden()


def test_guest_waits_for_a_host_who_has_not_arrived(server, new_page):
    room = server.create_room(roomName="Early guest", isLocked=True)
    guest = new_page(guest_url(room))
    join(guest, "Early Eve")
    knock_state(guest, "waiting")
    expect(guest.get_by_test_id("knock-status")).to_contain_text("No host has arrived yet")
    host = new_page(host_url(room))
    join(host, "Hana Host")
    knock_item(host, "Early Eve").get_by_test_id("admit").click()
    in_meeting(guest, tiles=2)


def test_unknown_room_and_wrong_key_are_explained_on_the_join_view(server, new_page):
    # An unknown room says so at once, before the name field (tests/e2e/test_room_page.py has more).
    page = new_page(server.base_url + "/no-such-room-here")
    expect(page.get_by_test_id("end-view")).to_have_attribute("data-reason", "room_not_found")
    expect(page.get_by_test_id("display-name")).to_be_hidden()
    room = server.create_room(roomName="Wrong key", isLocked=True)
    page = new_page(guest_url(room) + "?roomKey=not-the-key")
    expect(page.get_by_test_id("role")).to_have_text("Host")
    join(page, "Mallory")
    expect(page.locator("#join-error")).to_contain_text("not valid")
    shot(page, "join-error")


def test_admit_all_lets_everyone_waiting_in(server, new_page):
    room, host = hosted_room(server, new_page, "Admit all", isLocked=True, roomMode="group")
    guests = []
    for name in ("Ann One", "Ben Two"):
        g = guest_joins(new_page, room, name)
        knock_state(g, "waiting")
        guests.append(g)
    expect(host.get_by_test_id("knock-item")).to_have_count(2)
    expect(host.get_by_test_id("knock-badge")).to_have_text("2")
    host.get_by_test_id("admit-all").click()
    for g in guests:
        in_meeting(g, tiles=3)
    expect(host.get_by_test_id("knock-panel")).to_be_hidden()
