"""Meetings that end on time in the browser: the countdown banner for everyone and the host's
extend control (web/static/js/meeting-clock.js). A room of maxDurationMinutes=1 is within the last
minute from its start, so the server's countdown comes at once: no waiting, no test clock."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .flows import guest_joins, hosted_room, in_meeting

pytestmark = pytest.mark.e2e


def test_everyone_sees_the_countdown_and_a_host_extends_the_meeting(server, new_page):
    room, host = hosted_room(server, new_page, "Ends on time", maxDurationMinutes=1)
    guest = guest_joins(new_page, room, "Gus Guest")      # a late joiner learns the end from `joined`
    in_meeting(guest, tiles=2)
    for page in (host, guest):
        expect(page.get_by_test_id("meeting-clock")).to_be_visible()
        expect(page.get_by_test_id("meeting-countdown")).to_have_text(re.compile(r"ends in 0:[0-5]\d"))
    expect(guest.get_by_test_id("meeting-extend")).to_be_hidden()     # only hosts extend
    expect(host.get_by_test_id("meeting-extend")).to_be_visible()
    shot(host, "meeting-countdown")

    host.get_by_test_id("extend-5").click()
    for page in (host, guest):
        expect(page.locator("#toasts")).to_contain_text("extended the meeting by 5 minutes")
        expect(page.get_by_test_id("meeting-clock")).to_be_hidden()     # 6 minutes left: no countdown
    assert not host.errors and not guest.errors
