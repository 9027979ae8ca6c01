// The end view: the reason's icon, title and text, and whether rejoining makes sense.
import { $ } from "./dom.js";
import { icon } from "./icons.js";

const END_TEXT = Object.freeze({
  left: ["leave", "You left the meeting", "Thanks for joining.", true],
  kicked: ["door", "You were removed from the meeting", "A host removed you. If the room is locked, you will need to knock to come back.", true],
  meeting_ended: ["check", "The meeting has ended", "A host ended the meeting for everyone.", true],
  room_deleted: ["trash", "This room no longer exists", "The room was deleted.", false],
  room_not_found: ["search", "Room not found", "Check the link you were given.", false],
  room_expired: ["clock", "This room has expired", "Its end date has passed.", false],
  max_duration: ["clock", "The meeting's time is up", "It reached its planned length.", true],
  end_date: ["clock", "The meeting's time is up", "The room's end date has come.", false],
  solo_timeout: ["clock", "The meeting has ended", "You were alone in it for a while.", true],
  member_deleted: ["lock", "Your link no longer works", "The personal link you used was withdrawn.", false],
  server_shutdown: ["alert", "The server is restarting", "Try again in a moment.", true],
  disconnected: ["wifiOff", "Connection lost", "Your connection to the meeting dropped.", true],
  resumed_elsewhere: ["wifiOff", "You continued elsewhere", "This meeting was taken over by your newer connection.", false],
  connection_lost: ["wifiOff", "Connection lost", "We could not reach the server for a while.", true],
  room_closed: ["lock", "This room is closed", "It is not taking meetings right now.", false],
  room_full: ["people", "The room is full", "Try again later.", true],
});

/** Render the end view for `reason`; `message` is an optional text from the host/server. */
export function showEnd(reason, message) {
  const [iconName, title, text, rejoin] = END_TEXT[reason] || ["alert", "You are no longer in the meeting", "", true];
  const view = $("#end-view");
  view.dataset.reason = reason || "unknown";
  $("#end-icon").replaceChildren(icon(iconName));
  $("#end-title").textContent = title;
  $("#end-text").textContent = message ? `${text} ${message}`.trim() : text;
  $("#rejoin").hidden = !rejoin;
  $("#rejoin").textContent = reason === "meeting_ended" ? "Start again" : "Rejoin";
  $("#rejoin").focus();
}
