// Texts and rendering of the waiting room and end views.
import { $, icon } from "./ui.js";

let retryTimer = null;

/** Render a `knock_status` frame (or a synthetic one) into the waiting view. */
export function showWaiting(f) {
  const status = $("#knock-status");
  const hold = $("#hold-message");
  const detail = $("#waiting-detail");
  const again = $("#knock-again");
  const cancel = $("#cancel-knock");
  const spinner = $("#waiting-spinner");
  clearInterval(retryTimer);
  status.dataset.state = f.state;
  hold.hidden = true;
  again.hidden = true;
  again.disabled = false;
  cancel.hidden = false;
  cancel.textContent = "Cancel";
  spinner.hidden = false;
  detail.textContent = "";
  switch (f.state) {
    case "waiting":
      $("#waiting-title").textContent = "Waiting room";
      status.textContent = f.hostPresent === false
        ? "No host has arrived yet. You will be let in when one does."
        : "Waiting for the host to let you in…";
      detail.textContent = "Keep this page open. The host has been told you are here.";
      break;
    case "held":
      $("#waiting-title").textContent = "On hold";
      status.textContent = "The host asked you to wait.";
      hold.textContent = f.message || "";
      hold.hidden = !f.message;
      detail.textContent = "You are still in the queue; the host can let you in at any time.";
      break;
    case "admitted":
      $("#waiting-title").textContent = "You're in";
      status.textContent = "The host let you in. Joining…";
      cancel.hidden = true;
      break;
    case "rejected":
      $("#waiting-title").textContent = "Not let in";
      spinner.hidden = true;
      status.textContent = f.reason === "meeting_ended" ? "The meeting has ended."
        : f.reason === "room_full" ? "The room is full." : "The host did not let you in.";
      if (f.reason && !["meeting_ended", "room_full"].includes(f.reason)) {
        hold.textContent = f.reason;
        hold.hidden = false;
      }
      cancel.textContent = "Leave";
      again.hidden = f.reason === "meeting_ended";
      countdown(again, f.retryAfter);
      break;
    case "cancelled":
      $("#waiting-title").textContent = "You left the waiting room";
      spinner.hidden = true;
      status.textContent = "You stopped waiting. The host no longer sees you.";
      cancel.textContent = "Leave";
      again.hidden = false;
      break;
    default:
      status.textContent = f.state;
  }
}

function countdown(button, seconds) {
  let left = Math.ceil(Number(seconds) || 0);
  if (left <= 0) return;
  button.disabled = true;
  const tick = () => {
    button.textContent = left > 0 ? `Knock again (${left} s)` : "Knock again";
    button.disabled = left > 0;
    if (left <= 0) clearInterval(retryTimer);
    left -= 1;
  };
  tick();
  retryTimer = setInterval(tick, 1000);
}

const END_TEXT = {
  left: ["leave", "You left the meeting", "Thanks for joining.", true],
  kicked: ["door", "You were removed from the meeting", "A host removed you. If the room is locked, you will need to knock to come back.", true],
  meeting_ended: ["check", "The meeting has ended", "A host ended the meeting for everyone.", true],
  room_deleted: ["trash", "This room no longer exists", "The room was deleted.", false],
  room_not_found: ["search", "Room not found", "Check the link you were given.", false],
  room_expired: ["clock", "This room has expired", "Its end date has passed.", false],
  member_deleted: ["lock", "Your link no longer works", "The personal link you used was withdrawn.", false],
  server_shutdown: ["alert", "The server is restarting", "Try again in a moment.", true],
  disconnected: ["wifiOff", "Connection lost", "Your connection to the meeting dropped.", true],
  resumed_elsewhere: ["wifiOff", "You continued elsewhere", "This meeting was taken over by your newer connection.", false],
  connection_lost: ["wifiOff", "Connection lost", "We could not reach the server for a while.", true],
  room_closed: ["lock", "This room is closed", "It is not taking meetings right now.", false],
  room_full: ["people", "The room is full", "Try again later.", true],
};

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

export function describeJoinError(err) {
  switch (err.code) {
    case "room_not_found": return "This room does not exist. Check the link you were given.";
    case "room_closed": return "This room is closed right now.";
    case "room_full": return "The room is full. Try again later.";
    case "invalid_key": return "This link is not valid any more. Ask for a new one.";
    case "rate_limited": return `Too many attempts. Try again in ${Math.ceil(err.retryAfter || 60)} seconds.`;
    case "invalid_field": return err.field === "displayName" ? "Pick a name of 1 to 100 characters." : err.message;
    case "disconnected": return "Could not reach the server. Check your connection and try again.";
    default: return err.message || "Could not join.";
  }
}
