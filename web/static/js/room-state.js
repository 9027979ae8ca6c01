// The room page's early look-up (server/http/room_state.py): before the camera preview and the
// name field, ask the server whether this link's room takes meetings. The link's key goes in the
// POST body (never in a URL). Answers: open | closed | expired | unavailable (no such room, or
// none this link may know of); anything else (offline, 5xx, an older server) counts as "open":
// the join itself then says what is wrong.

const END_REASON = Object.freeze({ unavailable: "room_not_found", closed: "room_closed", expired: "room_expired" });

/** The end reason to show at once for this link's room, or null to go on to the join view. */
export async function earlyEndReason(roomSlug, key) {
  try {
    const resp = await fetch(`/${encodeURIComponent(roomSlug)}/state`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(key ? { key } : {}),
      cache: "no-store",
    });
    if (!resp.ok) return null;
    const { state } = await resp.json();
    return END_REASON[state] || null;
  } catch {
    return null;
  }
}
