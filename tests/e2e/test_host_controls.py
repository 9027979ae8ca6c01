"""Host powers in the browser: kick, end meeting, send back to the waiting room, lock, chat."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .flows import (
    UNLABELLED, ended, guest_joins, in_meeting, knock_item, knock_state, meeting_of_two, open_people, person,
)

pytestmark = pytest.mark.e2e


def test_kicked_guest_sees_kicked_and_host_ends_meeting_for_everyone(server, new_page):
    room, host, guest = meeting_of_two(server, new_page, "Kick and end", locked=False)
    third = guest_joins(new_page, room, "Tess Third")
    in_meeting(third, tiles=3)
    in_meeting(host, tiles=3)

    open_people(host)
    shot(host, "meeting-people-panel")
    assert host.evaluate(UNLABELLED) == []
    person(host, "Gus Guest").get_by_test_id("kick").click()
    host.get_by_test_id("confirm").click()  # the in-page dialog asks first
    ended(guest, "kicked")
    expect(guest.locator("#end-title")).to_contain_text("removed")
    shot(guest, "end-kicked")
    in_meeting(host, tiles=2)
    in_meeting(third, tiles=2)

    host.get_by_test_id("end-meeting").click()
    host.get_by_test_id("confirm").click()
    ended(third, "meeting_ended")
    ended(host, "meeting_ended")
    expect(third.locator("#end-title")).to_have_text("The meeting has ended")
    shot(third, "end", docs=True)


def test_send_back_to_waiting_room_and_admit_again(server, new_page):
    room, host, guest = meeting_of_two(server, new_page, "Back to waiting", locked=True)
    open_people(host)
    person(host, "Gus Guest").get_by_test_id("send-to-waiting").click()

    knock_state(guest, "held")
    expect(guest.get_by_test_id("hold-message")).to_contain_text("waiting room")
    in_meeting(host, tiles=1)
    item = knock_item(host, "Gus Guest")
    expect(item).to_be_visible()
    item.get_by_test_id("admit").click()
    in_meeting(guest, tiles=2)
    in_meeting(host, tiles=2)


def test_host_mutes_a_guest_and_everyone_sees_it(server, new_page):
    room, host, guest = meeting_of_two(server, new_page, "Mute", locked=False)
    gid = guest.evaluate("window.antechamber.state.me.participantId")
    open_people(host)
    person(host, "Gus Guest").get_by_test_id("mute").click()
    # The guest's own microphone turns off, and every roster shows the mute.
    expect(guest.get_by_test_id("toggle-mic")).to_have_attribute("aria-pressed", "false")
    expect(host.locator(f'[data-testid=tile][data-participant-id="{gid}"]')).to_have_attribute("data-audio-muted", "true")
    expect(guest.locator(f'[data-testid=tile][data-participant-id="{gid}"]')).to_have_attribute("data-audio-muted", "true")


def test_lock_toggle_sends_later_guests_to_the_waiting_room_and_chat_reaches_everyone(server, new_page):
    room, host, guest = meeting_of_two(server, new_page, "Lock and chat", locked=False)
    lock = host.get_by_test_id("lock-toggle")
    expect(lock).to_have_attribute("aria-pressed", "false")
    lock.click()
    expect(lock).to_have_attribute("aria-pressed", "true")
    expect(guest.locator("#lock-pill")).to_be_visible()

    late = guest_joins(new_page, room, "Lara Late")
    knock_state(late, "waiting")
    # Unlocking lets everyone waiting in.
    lock.click()
    in_meeting(late, tiles=3)

    guest.get_by_test_id("toggle-chat").click()
    guest.get_by_test_id("chat-input").fill("Hello from the guest")
    guest.get_by_test_id("chat-send").click()
    host.get_by_test_id("toggle-chat").click()
    expect(host.get_by_test_id("chat-message").filter(has_text="Hello from the guest")).to_have_count(1)
    expect(late.get_by_test_id("chat-message").filter(has_text="Hello from the guest")).to_have_count(1)
    expect(host.get_by_test_id("toggle-chat").locator(".badge")).to_be_hidden()
    shot(host, "meeting-chat")


def test_promoted_guest_gets_host_controls_and_sees_knocks(server, new_page):
    room, host, guest = meeting_of_two(server, new_page, "Promote", locked=True)
    expect(guest.get_by_test_id("lock-toggle")).to_be_hidden()
    open_people(host)
    person(host, "Gus Guest").get_by_test_id("promote").click()
    expect(guest.get_by_test_id("role")).to_have_text("Host")
    expect(guest.get_by_test_id("lock-toggle")).to_be_visible()
    expect(person(host, "Gus Guest")).to_contain_text("Host")
    late = guest_joins(new_page, room, "Lara Late")
    # Both hosts see the knock; one decision clears it for both.
    expect(knock_item(guest, "Lara Late")).to_be_visible()
    expect(knock_item(host, "Lara Late")).to_be_visible()
    knock_item(guest, "Lara Late").get_by_test_id("admit").click()
    in_meeting(late, tiles=3)
    expect(host.get_by_test_id("knock-item")).to_have_count(0)
