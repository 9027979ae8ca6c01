// The waiting-room view: renders a `knock_status` into its texts and buttons, with the
// "knock again" countdown after a rejection.
import { $ } from "./dom.js";
import { t } from "./i18n.js";

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
    cancel.textContent = t("waiting.cancel");
    spinner.hidden = false;
    detail.textContent = "";
    switch (f.state) {
      case "waiting":
        $("#waiting-title").textContent = t("waiting.title");
        status.textContent = f.hostPresent === false
          ? t("waiting.noHost") : t("waiting.forHost");
        detail.textContent = t("waiting.keepOpen");
        break;
      case "held":
        $("#waiting-title").textContent = t("waiting.heldTitle");
        status.textContent = t("waiting.held");
        hold.textContent = f.message || "";
        hold.hidden = !f.message;
        detail.textContent = t("waiting.heldDetail");
        break;
      case "admitted":
        $("#waiting-title").textContent = t("waiting.admittedTitle");
        status.textContent = t("waiting.admitted");
        cancel.hidden = true;
        break;
      case "rejected":
        $("#waiting-title").textContent = t("waiting.rejectedTitle");
        spinner.hidden = true;
        status.textContent = t(f.reason === "meeting_ended" ? "waiting.meetingEnded"
          : f.reason === "room_full" ? "waiting.roomFull" : "waiting.rejected");
        if (f.reason && !["meeting_ended", "room_full"].includes(f.reason)) {
          hold.textContent = f.reason;
          hold.hidden = false;
        }
        cancel.textContent = t("waiting.leave");
        again.hidden = f.reason === "meeting_ended";
        this.#countdown(again, f.retryAfter);
        break;
      case "cancelled":
        $("#waiting-title").textContent = t("waiting.cancelledTitle");
        spinner.hidden = true;
        status.textContent = t("waiting.cancelled");
        cancel.textContent = t("waiting.leave");
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
      button.textContent = left > 0 ? t("waiting.knockAgainIn", { seconds: left }) : t("waiting.knockAgain");
      button.disabled = left > 0;
      if (left <= 0) clearInterval(this.#retryTimer);
      left -= 1;
    };
    tick();
    this.#retryTimer = setInterval(tick, 1000);
  }
}
