// The end view: the reason's icon, title and text, and whether rejoining makes sense.
import { $ } from "./dom.js";
import { icon } from "./icons.js";
import { t } from "./i18n.js";

const END_TEXT = Object.freeze({
  // [icon, title key, text key (i18n.js catalogs), whether rejoining makes sense]
  left: ["leave", "end.left.title", "end.left.text", true],
  kicked: ["door", "end.kicked.title", "end.kicked.text", true],
  meeting_ended: ["check", "end.meetingEnded.title", "end.meetingEnded.text", true],
  room_deleted: ["trash", "end.roomDeleted.title", "end.roomDeleted.text", false],
  room_not_found: ["search", "end.roomNotFound.title", "end.roomNotFound.text", false],
  room_expired: ["clock", "end.roomExpired.title", "end.roomExpired.text", false],
  max_duration: ["clock", "end.timeUp.title", "end.maxDuration.text", true],
  end_date: ["clock", "end.timeUp.title", "end.endDate.text", false],
  solo_timeout: ["clock", "end.meetingEnded.title", "end.soloTimeout.text", true],
  member_deleted: ["lock", "end.memberDeleted.title", "end.memberDeleted.text", false],
  server_shutdown: ["alert", "end.serverShutdown.title", "end.serverShutdown.text", true],
  disconnected: ["wifiOff", "end.connectionLost.title", "end.disconnected.text", true],
  resumed_elsewhere: ["wifiOff", "end.resumedElsewhere.title", "end.resumedElsewhere.text", false],
  connection_lost: ["wifiOff", "end.connectionLost.title", "end.connectionLost.text", true],
  room_closed: ["lock", "end.roomClosed.title", "end.roomClosed.text", false],
  room_full: ["people", "end.roomFull.title", "end.roomFull.text", true],
});

/** Render the end view for `reason`; `message` is an optional text from the host/server. */
export function showEnd(reason, message) {
  const [iconName, titleKey, textKey, rejoin] = END_TEXT[reason] || ["alert", "end.unknown.title", null, true];
  const title = t(titleKey);
  const text = textKey ? t(textKey) : "";
  const view = $("#end-view");
  view.dataset.reason = reason || "unknown";
  $("#end-icon").replaceChildren(icon(iconName));
  $("#end-title").textContent = title;
  $("#end-text").textContent = message ? `${text} ${message}`.trim() : text;
  $("#rejoin").hidden = !rejoin;
  $("#rejoin").textContent = t(reason === "meeting_ended" ? "end.startAgain" : "end.rejoin");
  $("#rejoin").focus();
}
