// The Recording view of one room (recordings.html), opened from the room's recording link
// (/<room>/recordings?recordingKey=...), a host link (?roomKey=...), or the room page for
// participants with canRetrieveRecordings. No API key needed. Lists the room's recordings with
// duration, size and state; play (the player page), download (the composed MP4 and the tracks
// file), share link (a signed link to the player page) and, for hosts, delete.
// `createRecordingsPage()` builds the page's app object; the one call at the bottom starts it.
import { h, $, toast, copyText } from "./dom.js";
import { clock, confirmInline, credentialOf, recordingApi } from "./recording-api.js";

const POLL_MS = 4000;

function describe(rec) {
  const when = rec.startDate ? new Date(rec.startDate).toLocaleString() : "";
  const size = Number(rec.size) > 0 ? `${(Number(rec.size) / 1024 / 1024).toFixed(1)} MB` : "";
  return [when, Number(rec.duration) > 0 ? clock(rec.duration) : "", size].filter(Boolean).join(" · ");
}

function stateText(rec) {
  if (rec.status !== "complete") return rec.status;
  if (rec.composition === "pending") return `preparing video ${Math.round((rec.compositionProgress || 0) * 100)} %`;
  if (rec.composition === "failed") return "complete · video failed";
  return "complete";
}

/** The recordings page for `location`: the room from the path, the credential from the query. */
export function createRecordingsPage(location = window.location) {
  const roomId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[0] || "");
  const credential = credentialOf(location.search).filter(([k]) => k !== "expires" && k !== "signature");
  const api = recordingApi(credential);
  const status = $("#rec-status");
  let timer = null;

  function say(text, kind = "") {
    status.hidden = !text;
    status.className = `notice ${kind}`;
    status.textContent = text || "";
  }

  function row(rec) {
    const id = encodeURIComponent(rec.recordingId);
    const ended = rec.status === "complete" || rec.status === "failed";
    const play = h("a", { class: "btn btn-sm btn-primary", href: `/recording/${id}?${api.query}`, dataset: { testid: "play" } }, "Play");
    const video = rec.composition === "ready"
      ? h("a", { class: "btn btn-sm", href: api.media(rec.recordingId, "composed"), download: "", dataset: { testid: "download-composed" } }, "Download video")
      : null;
    const tracks = ended
      ? h("a", { class: "btn btn-sm", href: api.media(rec.recordingId, "tracks"), download: "", dataset: { testid: "download-tracks" } }, "Download tracks")
      : null;
    const share = h("button", { type: "button", class: "btn-sm", disabled: !ended, dataset: { testid: "share" } }, "Copy share link");
    share.addEventListener("click", async () => {
      try {
        const link = (await api.call("GET", `/recordings/${id}/url`)).playerUrl;
        toast(await copyText(link) ? "Link copied: it opens the player and expires." : link, { timeout: 4000 });
      } catch (err) { toast(err.message, { kind: "error" }); }
    });
    const remove = api.isHost && ended
      ? h("button", { type: "button", class: "btn-sm btn-danger", dataset: { testid: "delete" } }, "Delete") : null;
    remove?.addEventListener("click", async () => {
      if (!await confirmInline(remove, "Delete for everyone?", h)) return;
      try {
        await api.call("DELETE", `/recordings/${id}`);
        item.remove();
        toast("Recording deleted.", { timeout: 3000 });
        if (!$("#rec-list").children.length) say("No recordings yet.");
      } catch (err) { toast(err.message, { kind: "error" }); }
    });
    const item = h("li", { class: "room-row", dataset: { testid: "recording-row", recordingId: rec.recordingId } },
      h("header", {}, h("h3", {}, describe(rec) || rec.recordingId),
        h("span", { class: "pill", dataset: { testid: "recording-state" } }, stateText(rec))),
      h("div", { class: "room-actions" }, play, video, tracks, share, remove));
    return item;
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const page = await api.call("GET", "/recordings", { roomId, maxItems: "100" });
      const items = page.recordings || [];
      if (items[0]?.roomName) $("#rec-room").textContent = items[0].roomName;
      $("#rec-list").replaceChildren(...items.map(row));
      say(items.length ? "" : "No recordings yet.");
      if (items.some((r) => r.composition === "pending" || !["complete", "failed"].includes(r.status))) {
        timer = setTimeout(refresh, POLL_MS);
      }
    } catch (err) {
      say(err.message, "error");
    }
  }

  async function start() {
    $("#rec-room").textContent = roomId;
    if (!credential.length) {
      say("This page needs the room's recording link.", "error");
      return;
    }
    await refresh();
  }

  return { roomId, start, refresh };
}

createRecordingsPage().start();
