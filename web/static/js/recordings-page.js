// The recordings page (recordings.html) of one room, opened from the room's recording link
// (/<room>/recordings?recordingKey=...) or a host link (?roomKey=...). No API key needed.
// `createRecordingsPage()` builds the page's app object; the one call at the bottom of this
// file starts it.
import { h, $, toast, copyText } from "./dom.js";

function describe(rec) {
  const when = rec.startDate ? new Date(rec.startDate).toLocaleString() : "";
  const secs = Number(rec.duration);
  const duration = Number.isFinite(secs) && secs > 0 ? `${Math.round(secs > 10000 ? secs / 1000 : secs)} s` : "";
  const size = Number(rec.size) > 0 ? `${(Number(rec.size) / 1024 / 1024).toFixed(1)} MB` : "";
  return [when, duration, size].filter(Boolean).join(" · ");
}

/** The recordings page for `location`: the room from the path, the credential from the query. */
export function createRecordingsPage(location = window.location) {
  const roomId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[0] || "");
  const params = new URLSearchParams(location.search);
  const credential = params.get("recordingKey") ? ["recordingKey", params.get("recordingKey")]
    : params.get("roomKey") ? ["roomKey", params.get("roomKey")] : null;
  const status = $("#rec-status");
  const player = $("#rec-player");

  function say(text, kind = "") {
    status.hidden = !text;
    status.className = `notice ${kind}`;
    status.textContent = text || "";
  }

  async function get(path, extra = {}) {
    const q = new URLSearchParams(extra);
    if (credential) q.set(credential[0], credential[1]);
    const response = await fetch(`/api/v1${path}?${q}`, { credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
    return body;
  }

  function row(rec) {
    const ready = rec.status === "complete" || rec.status === "failed";
    const link = async () => (await get(`/recordings/${encodeURIComponent(rec.recordingId)}/url`)).url;
    const play = h("button", { type: "button", class: "btn-sm btn-primary", disabled: !ready }, "Play");
    play.addEventListener("click", async () => {
      try {
        player.src = await link();
        player.hidden = false;
        player.play().catch(() => {});
      } catch (err) { toast(err.message, { kind: "error" }); }
    });
    const download = h("button", { type: "button", class: "btn-sm", disabled: !ready }, "Download");
    download.addEventListener("click", async () => {
      try {
        const a = h("a", { href: await link(), download: "" });
        document.body.append(a);
        a.click();
        a.remove();
      } catch (err) { toast(err.message, { kind: "error" }); }
    });
    const share = h("button", { type: "button", class: "btn-sm", disabled: !ready }, "Copy link");
    share.addEventListener("click", async () => {
      try {
        toast(await copyText(await link()) ? "Link copied (it expires)." : "Copy failed.", { timeout: 3000 });
      } catch (err) { toast(err.message, { kind: "error" }); }
    });
    return h("li", { class: "room-row", dataset: { testid: "recording-row", recordingId: rec.recordingId } },
      h("header", {}, h("h3", {}, describe(rec) || rec.recordingId), h("span", { class: "pill" }, rec.status)),
      h("div", { class: "room-actions" }, play, download, share));
  }

  async function start() {
    $("#rec-room").textContent = roomId;
    if (!credential) {
      say("This page needs the room's recording link.", "error");
      return;
    }
    try {
      const page = await get("/recordings", { roomId, maxItems: "100" });
      const items = page.recordings || [];
      $("#rec-list").replaceChildren(...items.map(row));
      if (!items.length) say("No recordings yet.");
    } catch (err) {
      say(err.message, "error");
    }
  }

  return { roomId, start };
}

createRecordingsPage().start();
