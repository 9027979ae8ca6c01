// Host controls for the waiting room: the knock panel (let in / hold with a message /
// reject / admit all), with a sound and a badge when someone new knocks.
import { h, $, toast } from "./dom.js";
import { formatDuration } from "./format.js";
import { msg } from "./protocol.js";
import { t } from "./i18n.js";

export class KnockPanel {
  /** signaling: Signaling; ring(): plays the knock sound; onChange(count) updates badges. */
  constructor(signaling, { ring, onChange }) {
    this.signaling = signaling;
    this.ring = ring;
    this.onChange = onChange;
    this.panel = $("#knock-panel");
    this.list = $("#knock-list");
    this.knocks = [];
    this.seen = new Set();
    this.receivedAt = 0;
    this.enabled = false;
    this.items = new Map(); // knockId -> li (kept so an open hold form survives updates)
    this.toasts = new Map(); // knockId -> function removing its toast
    $("#admit-all").addEventListener("click", () => this.run(msg.admitAll(), t("knock.admittedAll")));
    setInterval(() => this.tick(), 5000);
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    if (!enabled) this.update([]);
    else this.render();
  }

  async run(message, done) {
    try {
      const reply = await this.signaling.request(message);
      if (done) toast(typeof done === "function" ? done(reply) : done, { timeout: 2500 });
    } catch (err) {
      toast(err.message, { kind: "error" });
    }
  }

  /** New queue from `knocks` (or `joined.knocks`). Rings for knocks not seen before. */
  update(knocks, change = null) {
    const pending = (knocks || []).filter((k) => k.state === "waiting" || k.state === "held");
    const fresh = pending.filter((k) => !this.seen.has(k.knockId));
    for (const k of pending) this.seen.add(k.knockId);
    this.knocks = pending;
    this.receivedAt = Date.now();
    if (this.enabled && fresh.length) {
      this.ring();
      for (const k of fresh) {
        // A toast per knock with a quick "Let in"; it goes away once the knock is decided.
        this.toasts.set(k.knockId, toast(t("knock.isWaiting", { name: k.displayName }), {
          timeout: 8000, action: { label: t("knock.letIn"), run: () => this.run(msg.admit(k.knockId)) } }));
      }
    }
    const pendingIds = new Set(pending.map((k) => k.knockId));
    for (const [id, remove] of this.toasts) {
      if (!pendingIds.has(id)) { remove(); this.toasts.delete(id); }
    }
    if (this.enabled && change && change.state === "cancelled") {
      toast(t("knock.stopped", { name: change.displayName }), { timeout: 3000 });
    }
    if (this.enabled && change && change.arrival === "did_not_arrive") this.missed(change);
    if (!this.enabled) this.list.querySelectorAll("[data-testid=knock-missed]").forEach((li) => li.remove());
    this.render();
  }

  render() {
    const visible = this.enabled && (this.knocks.length > 0 || Boolean(this.list.querySelector("[data-testid=knock-missed]")));
    this.panel.hidden = !visible;
    const keep = new Set(this.knocks.map((k) => k.knockId));
    for (const [id, li] of this.items) if (!keep.has(id)) { li.remove(); this.items.delete(id); }
    for (const k of this.knocks) {
      let li = this.items.get(k.knockId);
      if (!li) {
        li = this.item(k);
        this.items.set(k.knockId, li);
      }
      this.fill(li, k);
      this.list.append(li); // keeps queue order (oldest first)
    }
    $("#admit-all").hidden = this.knocks.length < 2;
    this.onChange(this.enabled ? this.knocks.length : 0);
  }

  item(k) {
    // One click per decision, so hosts (and test harnesses) never hit a second step:
    // the optional message field is always there; Hold uses it (or a default), Reject
    // sends it as the reason.
    const id = k.knockId;
    const inputId = `knock-${id}-message`;
    const input = h("input", { type: "text", id: inputId, maxlength: "500", class: "knock-input",
      placeholder: t("knock.messagePlaceholder"), dataset: { testid: "knock-message" } });
    const label = h("label", { class: "sr-only", htmlFor: inputId }, t("knock.messageLabel"));
    const text = () => input.value.trim();
    const li = h("li", { class: "knock-item", dataset: { testid: "knock-item", knockId: id } },
      h("div", { class: "who" }, h("strong", { class: "knock-name" }, ""), h("span", { class: "small dim waited" }, "")),
      h("p", { class: "small dim held-note", hidden: true }, ""),
      label, input,
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "btn-sm btn-primary", dataset: { testid: "admit" },
          onclick: () => this.run(msg.admit(id)) }, t("knock.letIn")),
        h("button", { type: "button", class: "btn-sm", dataset: { testid: "hold" },
          onclick: () => { this.run(msg.hold(id, text() || t("knock.defaultHold")), t("knock.held")); input.value = ""; } },
          t("knock.hold")),
        h("button", { type: "button", class: "btn-sm", dataset: { testid: "reject" },
          onclick: () => this.run(msg.reject(id, text() || undefined), t("knock.rejected")) }, t("knock.reject"))));
    return li;
  }

  fill(li, k) {
    li.querySelector(".knock-name").textContent = k.displayName;
    li.classList.toggle("held", k.state === "held");
    li.dataset.state = k.state;
    li.dataset.connection = k.connection || "connected"; // "reconnecting": their websocket dropped, place kept
    const waited = (k.waitedMs || 0) + (Date.now() - this.receivedAt);
    li.querySelector(".waited").textContent = t("knock.waited", { duration: formatDuration(waited) })
      + (k.connection === "reconnecting" ? t("knock.reconnecting") : "");
    const note = li.querySelector(".held-note");
    note.hidden = k.state !== "held";
    note.textContent = k.state === "held" ? t("knock.onHold", { message: k.message || "" }) : "";
    for (const b of li.querySelectorAll("button")) {
      const label = b.textContent;
      if (b.dataset.testid) b.setAttribute("aria-label", t("knock.buttonFor", { action: label, name: k.displayName }));
    }
  }

  /** Let in while their connection was away, and they never came back (docs/protocol.md). */
  missed(change) {
    toast(t("knock.missed", { name: change.displayName }), { timeout: 6000 });
    const li = h("li", { class: "knock-item small dim", dataset: { testid: "knock-missed", knockId: change.knockId } },
      h("span", {}, t("knock.missedItem", { name: change.displayName })),
      h("button", { type: "button", class: "btn-sm", dataset: { testid: "dismiss-missed" },
        onclick: () => { li.remove(); this.render(); } }, t("knock.dismiss")));
    this.list.prepend(li);
    this.render();
  }

  tick() {
    if (!this.enabled) return;
    for (const k of this.knocks) {
      const li = this.items.get(k.knockId);
      if (li) this.fill(li, k);
    }
  }
}
