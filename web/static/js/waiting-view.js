// The waiting-room view: renders a `knock_status` into its texts and buttons, with the
// "knock again" countdown after a rejection.
import { $ } from "./dom.js";

export class WaitingView {
  #retryTimer = null;

  /** Render a `knock_status` frame (or a synthetic one) into the waiting view. */
  show(f) {
    const status = $("#knock-status");
    const hold = $("#hold-message");
    const detail = $("#waiting-detail");
    const again = $("#knock-again");
    const cancel = $("#cancel-knock");
    const spinner = $("#waiting-spinner");
    clearInterval(this.#retryTimer);
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
        this.#countdown(again, f.retryAfter);
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

  #countdown(button, seconds) {
    let left = Math.ceil(Number(seconds) || 0);
    if (left <= 0) return;
    button.disabled = true;
    const tick = () => {
      button.textContent = left > 0 ? `Knock again (${left} s)` : "Knock again";
      button.disabled = left > 0;
      if (left <= 0) clearInterval(this.#retryTimer);
      left -= 1;
    };
    tick();
    this.#retryTimer = setInterval(tick, 1000);
  }
}
