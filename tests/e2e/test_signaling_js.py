"""web/static/js/signaling.js in Chromium: a merged roster frame (signaling/wire/merge.py, sent when a
connection's writer is backed up) reaches the page's handlers as the single messages it holds."""

from __future__ import annotations

import pytest

from .flows import guest_url

pytestmark = pytest.mark.e2e

FEED = """async () => {
  const { Signaling } = await import("/static/js/signaling.js");
  const s = new Signaling("ws://127.0.0.1:9/unused");
  const seen = [];
  s.on("participant_joined", (f) => seen.push(["joined", f.participant.participantId, f.participant.displayName]));
  s.on("participant_left", (f) => seen.push(["left", f.participantId, f.reason]));
  for (const t of ["participants_joined", "participants_left", "constructor"]) s.on(t, () => seen.push([t]));
  s.receive(JSON.stringify({ type: "participants_joined", participants: [
    { participant: { participantId: "p_1", displayName: "Ada" } },
    { participant: { participantId: "p_2", displayName: "Bo" } }] }));
  s.receive(JSON.stringify({ type: "participant_joined", participant: { participantId: "p_3", displayName: "Cy" } }));
  s.receive(JSON.stringify({ type: "participants_left", participants: [
    { participantId: "p_1", reason: "left" }, { participantId: "p_3", reason: "kicked" }] }));
  s.receive(JSON.stringify({ type: "constructor", participants: [{ participantId: "x" }] }));
  return seen;
}"""


def test_a_merged_roster_frame_reaches_the_handlers_as_single_messages(server, new_page):
    room = server.create_room(roomName="Merged frames", isLocked=False)
    page = new_page(guest_url(room))
    assert page.evaluate(FEED) == [
        ["joined", "p_1", "Ada"], ["joined", "p_2", "Bo"], ["joined", "p_3", "Cy"],
        ["left", "p_1", "left"], ["left", "p_3", "kicked"],
        ["constructor"],    # an unknown type is only its own event, never expanded
    ]
    assert page.errors == []
