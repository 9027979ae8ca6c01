// What the room page tells someone whose `join` failed: one text per error code of
// docs/protocol.md (the join view shows it; a failed rejoin passes it to the end view).
import { t } from "./i18n.js";

/** The text for a failed `join` (err: a SignalingError or `{code, message}`). */
export function describeJoinError(err) {
  switch (err.code) {
    case "room_not_found": return t("error.roomNotFound");
    case "room_closed": return t("error.roomClosed");
    case "room_expired": return t("error.roomExpired");
    case "room_full": return t("error.roomFull");
    case "invalid_key": return t("error.invalidKey");
    case "rate_limited": return t("error.rateLimited", { seconds: Math.ceil(err.retryAfter || 60) });
    case "invalid_field": return err.field === "displayName" ? t("error.nameLength") : err.message;
    case "disconnected": return t("meeting.unreachable");
    default: return err.message || t("error.couldNotJoin");
  }
}
