"""Recording from the browser: the host records, everyone sees it, the dashboard plays it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .flows import guest_joins, hosted_room, in_meeting, wait_true

pytestmark = pytest.mark.e2e

_PUBLISHED = "() => { const m = window.antechamber.media; return m && m.pub && m.pub.remoteDescription; }"
_FRAMES = """async () => {
  const m = window.antechamber.media;
  if (!m || !m.sub) return false;
  let n = 0;
  (await m.sub.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0; });
  return n > 30;
}"""


def test_host_records_everyone_sees_it_and_the_dashboard_plays_it(server, new_page):
    room, host = hosted_room(server, new_page, "Recorded", isLocked=False)
    guest = guest_joins(new_page, room, "Gus Guest")
    in_meeting(guest, tiles=2)
    host.wait_for_function(_PUBLISHED, timeout=60_000)
    wait_true(guest, _FRAMES, what="frames decoded")  # media flows before recording

    expect(guest.get_by_test_id("record-toggle")).to_be_hidden()  # guests cannot record
    record = host.get_by_test_id("record-toggle")
    record.click()
    expect(host.get_by_test_id("recording-indicator")).to_be_visible()
    expect(guest.get_by_test_id("recording-indicator")).to_be_visible()
    expect(record).to_have_attribute("aria-pressed", "true")
    shot(guest, "meeting-recording")
    # Record a few seconds of real media (wait on the media clock, not a sleep).
    guest.wait_for_function("() => document.querySelector('[data-testid=tile] video').currentTime > 0")
    start = host.evaluate("performance.now()")
    host.wait_for_function(f"() => performance.now() - {start} > 3000", polling=200)
    record.click()
    expect(guest.get_by_test_id("recording-indicator")).to_be_hidden()
    expect(record).to_have_attribute("aria-pressed", "false")

    dash = new_page(server.base_url + "/dashboard")
    dash.get_by_test_id("api-key").fill(server.api_key)
    dash.get_by_role("button", name="Connect").click()
    row = dash.get_by_test_id("room-row").filter(has_text="Recorded")
    row.get_by_test_id("show-recordings").click()
    rec = row.get_by_test_id("recording-row")
    expect(rec).to_have_count(1)
    expect(rec).to_contain_text("complete")
    rec.get_by_role("button", name="Play").click()
    player = row.locator("video")
    expect(player).to_be_visible()
    dash.wait_for_function("(v) => v.readyState >= 1 && v.videoWidth > 0", arg=player.element_handle(),
                           timeout=30_000)
    shot(dash, "dashboard-recording", docs=True)

    # The room's recording link opens a page that lists and plays it without an API key.
    status, fresh = server.api("GET", f"/api/v1/rooms/{room['roomId']}")
    assert status == 200
    rec_link = fresh["access"]["anonymous"]["recording"]["url"]
    page = new_page(rec_link)
    item = page.get_by_test_id("recording-row")
    expect(item).to_have_count(1)
    shot(page, "recordings-page")
    # Play opens the recording's player page with the same recording key (tests/e2e/test_recording_player.py plays it)
    item.get_by_test_id("play").click()
    expect(page.get_by_test_id("player-room")).to_have_text("Recorded")
    expect(page.get_by_test_id("download-tracks")).to_be_visible()
    # Without the key the page explains itself instead of listing anything.
    bare = new_page(rec_link.split("?")[0])
    expect(bare.locator("#rec-status")).to_contain_text("recording link")
    expect(bare.get_by_test_id("recording-row")).to_have_count(0)
