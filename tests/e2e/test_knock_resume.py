"""A knocker whose websocket drops keeps its place in the waiting queue (browser client)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .flows import guest_joins, hosted_room, in_meeting, knock_item, knock_state

pytestmark = pytest.mark.e2e


def test_a_held_knocker_reconnects_to_the_same_knock(server, new_page):
    room, host = hosted_room(server, new_page, "Knock resume", isLocked=True)
    first = guest_joins(new_page, room, "Ann Early")
    knock_state(first, "waiting")
    gus = guest_joins(new_page, room, "Gus Guest")
    knock_state(gus, "waiting")
    item = knock_item(host, "Gus Guest")
    expect(item).to_be_visible()
    knock_id = item.get_attribute("data-knock-id")
    item.get_by_test_id("knock-message").fill("Just a minute, please.")
    item.get_by_test_id("hold").click()
    knock_state(gus, "held")

    gus.evaluate("""() => { window.resumedKnocks = [];
        window.antechamber.signaling.on("knock_status", (f) => { if (f.resumed) window.resumedKnocks.push(f.knockId); });
        window.antechamber.signaling.ws.close(); }""")   # the network drops the socket
    gus.wait_for_function("() => window.resumedKnocks.length === 1", timeout=20000)
    assert gus.evaluate("window.resumedKnocks[0]") == knock_id
    knock_state(gus, "held")
    expect(gus.get_by_test_id("hold-message")).to_have_text("Just a minute, please.")
    # the host's queue never changed: same knock, still second, no longer flagged
    items = host.get_by_test_id("knock-item")
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_have_attribute("data-knock-id", knock_id)
    expect(items.nth(1)).to_have_attribute("data-connection", "connected")
    knock_item(host, "Gus Guest").get_by_test_id("admit").click()
    in_meeting(gus, tiles=2)
    assert host.errors == [] and gus.errors == []
