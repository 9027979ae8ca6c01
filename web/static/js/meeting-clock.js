// Meetings that end on time (docs/protocol.md "Meetings that end on time"): a countdown
// banner for everyone once the server says the end is near (`meeting_ending`, 5 and 1 minute
// before), and for hosts (canEndMeeting) buttons that extend the meeting (`extend {minutes}`);
// everyone sees an extension (`meeting_extended`). The banner lives in the meeting view and
// keeps itself up to date from the signaling messages alone (room-page.js creates it).
import { h, $, toast } from "./dom.js";
import { SERVER, msg } from "./protocol.js";
import { t } from "./i18n.js";

const EXTEND_BY = [5, 15];

export class MeetingClock {
  /** signaling: Signaling; state: the room page's state (state.me.permissions). */
  constructor(signaling, state) {
    this.signaling = signaling;
    this.state = state;
    this.endsAt = null;
    this.timer = null;
    this.text = h("span", { class: "meeting-clock-text", dataset: { testid: "meeting-countdown" } }, "");
    this.buttons = h("span", { class: "meeting-clock-extend", dataset: { testid: "meeting-extend" } },
      ...EXTEND_BY.map((m) => h("button", { type: "button", class: "btn-sm", dataset: { testid: `extend-${m}` },
        onclick: () => this.extend(m) }, t("clock.extendBy", { minutes: m }))));
    this.banner = h("div", { class: "notice meeting-clock", role: "status", hidden: true,
      dataset: { testid: "meeting-clock" } }, this.text, this.buttons);
    const view = $("#view-meeting");
    if (view) view.prepend(this.banner);
    signaling.on(SERVER.JOINED, (f) => this.joined(f));
    signaling.on(SERVER.MEETING_ENDING, (f) => this.show(f.endsAt));
    signaling.on(SERVER.MEETING_EXTENDED, (f) => this.extended(f));
    signaling.on(SERVER.PERMISSIONS, () => this.render());
    signaling.on(SERVER.ENDED, () => this.hide());
  }

  /** A late joiner (or a resume) learns the end from `joined.meeting.endsAt`: shown if near. */
  joined(f) {
    const endsAt = f.meeting && f.meeting.endsAt;
    if (endsAt && endsAt - Date.now() <= 5 * 60_000) this.show(endsAt);
    else this.hide();
  }

  extended(f) {
    toast(t(f.by ? "clock.extendedByHost" : "clock.extendedByOrganiser", { minutes: f.minutes }), { timeout: 4000 });
    if (f.endsAt - Date.now() > 5 * 60_000) this.hide();
    else this.show(f.endsAt);
  }

  async extend(minutes) {
    try {
      await this.signaling.request(msg.extend(minutes));
    } catch (err) {
      toast(err.message, { kind: "error" });
    }
  }

  show(endsAt) {
    this.endsAt = endsAt;
    this.banner.hidden = false;
    if (!this.timer) this.timer = setInterval(() => this.render(), 1000);
    this.render();
  }

  hide() {
    this.endsAt = null;
    this.banner.hidden = true;
    clearInterval(this.timer);
    this.timer = null;
  }

  render() {
    if (this.endsAt === null) return;
    const left = Math.max(0, Math.round((this.endsAt - Date.now()) / 1000));
    const mm = Math.floor(left / 60);
    const ss = String(left % 60).padStart(2, "0");
    this.text.textContent = t("clock.endsIn", { time: `${mm}:${ss}` });
    const perms = (this.state.me && this.state.me.permissions) || {};
    this.buttons.hidden = !perms.canEndMeeting;
  }
}
