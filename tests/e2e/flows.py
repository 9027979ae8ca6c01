"""Steps shared by the end-to-end tests: what a person does on the room page."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect


def host_url(room: dict) -> str:
    return room["access"]["anonymous"]["moderator"]["url"]


def guest_url(room: dict) -> str:
    return room["access"]["anonymous"]["speaker"]["url"]


def join(page: Page, name: str) -> None:
    """Fill the name on the join view and press Join."""
    expect(page.get_by_test_id("join")).to_be_enabled()
    page.get_by_test_id("display-name").fill(name)
    page.get_by_test_id("join").click()


def in_meeting(page: Page, tiles: int | None = None) -> None:
    expect(page.locator("#view-meeting")).to_be_visible()
    if tiles is not None:
        expect(page.get_by_test_id("tile")).to_have_count(tiles)


def hosted_room(server, new_page, room_name: str, **fields) -> tuple[dict, Page]:
    """Create a room and have "Hana Host" join it: the room and the host's page, alone in the meeting."""
    room = server.create_room(roomName=room_name, **fields)
    host = new_page(host_url(room))
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    return room, host


def guest_joins(new_page, room: dict, name: str) -> Page:
    """A guest opens the room's guest link and presses Join (it may knock or enter)."""
    guest = new_page(guest_url(room))
    join(guest, name)
    return guest


def meeting_of_two(server, new_page, room_name: str, *, locked: bool, host_ready=None):
    """"Hana Host" joins (then `host_ready(host)` runs, if given), "Gus Guest" joins, admitted by
    the host if the room is locked, and both see two tiles: the room and both pages."""
    room, host = hosted_room(server, new_page, room_name, isLocked=locked)
    if host_ready is not None:
        host_ready(host)
    guest = guest_joins(new_page, room, "Gus Guest")
    if locked:
        knock_item(host, "Gus Guest").get_by_test_id("admit").click()
    in_meeting(guest, tiles=2)
    in_meeting(host, tiles=2)
    return room, host, guest


def knock_state(page: Page, state: str) -> None:
    expect(page.locator("#view-waiting")).to_be_visible()
    expect(page.get_by_test_id("knock-status")).to_have_attribute("data-state", state)


def knock_item(host: Page, name: str):
    return host.get_by_test_id("knock-item").filter(has_text=name)


def person(host: Page, name: str):
    return host.get_by_test_id("person").filter(has_text=name)


def open_people(host: Page) -> None:
    if host.locator("#panel-people").is_hidden() or host.locator("#side").is_hidden():
        host.get_by_test_id("toggle-people").click()
    expect(host.locator("#panel-people")).to_be_visible()


def ended(page: Page, reason: str) -> None:
    expect(page.locator("#view-end")).to_be_visible()
    expect(page.get_by_test_id("end-view")).to_have_attribute("data-reason", reason)


def participant_id(page: Page) -> str:
    return page.evaluate("window.antechamber.state.me.participantId")


# Every visible control has an accessible name (text, aria-label or a <label>).
UNLABELLED = """() => {
  const out = [];
  for (const el of document.querySelectorAll("button, input, select, textarea, a[href]")) {
    if (!el.checkVisibility || !el.checkVisibility()) continue;
    const labelled = (el.getAttribute("aria-label") || "").trim() || (el.textContent || "").trim()
      || (el.labels && el.labels.length) || el.getAttribute("aria-labelledby") || el.type === "hidden";
    if (!labelled) out.push(el.outerHTML.slice(0, 120));
  }
  return out;
}"""


def wait_true(page: Page, function: str, arg=None, *, timeout_ms: int = 60_000, what: str = "") -> None:
    """Poll ``function(arg)`` in the page until it is truthy; it may be async.

    Playwright's wait_for_function takes an async function's Promise as a truthy value and returns
    at once, so a getStats() predicate given to it asserts nothing: each poll here is awaited."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(function, arg):
        assert time.monotonic() < deadline, f"timed out after {timeout_ms} ms waiting for {what or function}"
        page.wait_for_timeout(250)
