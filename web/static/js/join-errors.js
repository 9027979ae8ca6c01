// What the room page tells someone whose `join` failed: one text per error code of
// docs/protocol.md (the join view shows it; a failed rejoin passes it to the end view).

/** The text for a failed `join` (err: a SignalingError or `{code, message}`). */
export function describeJoinError(err) {
  switch (err.code) {
    case "room_not_found": return "This room does not exist. Check the link you were given.";
    case "room_closed": return "This room is closed right now.";
    case "room_expired": return "This room has expired: its end date has passed.";
    case "room_full": return "The room is full. Try again later.";
    case "invalid_key": return "This link is not valid any more. Ask for a new one.";
    case "rate_limited": return `Too many attempts. Try again in ${Math.ceil(err.retryAfter || 60)} seconds.`;
    case "invalid_field": return err.field === "displayName" ? "Pick a name of 1 to 64 characters." : err.message;
    case "disconnected": return "Could not reach the server. Check your connection and try again.";
    default: return err.message || "Could not join.";
  }
}
