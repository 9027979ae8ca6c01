// The player page of one recording (recording.html, /recording/<recordingId>): the composed MP4 of
// the meeting in a <video>, the room's name, date and duration, downloads of both files and, for
// a host (?roomKey=), delete. Opened from a shared (signed) link, it needs nothing else: the link's
// expires + signature open this one recording. `createPlayerPage()` builds the page's app object;
// the one call at the bottom starts it.
import { h, $, toast } from "./dom.js";
import { clock, compositionText, confirmInline, credentialOf, recordingApi } from "./recording-api.js";

const POLL_MS = 3000;

export function createPlayerPage(location = window.location) {
  const id = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const credential = credentialOf(location.search);
  const api = recordingApi(credential);
  const status = $("#player-status");
  const video = $("#player-video");
  let timer = null;

  function say(text, kind = "") {
    status.hidden = !text;
    status.className = `notice ${kind}`;
    status.textContent = text || "";
  }

  function show(rec) {
    $("#player-title").textContent = rec.roomName || rec.roomId;
    document.title = `${rec.roomName || rec.roomId} · Recording · Antechamber`;
    $("#player-date").textContent = rec.startDate ? new Date(rec.startDate).toLocaleString() : "";
    $("#player-duration").textContent = clock(rec.duration);
    const ended = rec.status === "complete" || rec.status === "failed";
    const tracks = $("#download-tracks");
    tracks.hidden = !ended;
    tracks.href = api.media(id, "tracks");
    const composed = $("#download-composed");
    composed.hidden = rec.composition !== "ready";
    composed.href = api.media(id, "composed");
    $("#compose").hidden = !(api.isHost && ended && (rec.composition == null || rec.composition === "failed"));
    $("#delete").hidden = !(api.isHost && ended);
    const back = $("#back");
    back.hidden = !api.isHost;
    back.href = `/${encodeURIComponent(rec.roomId)}/recordings?${api.query}`;
    say(compositionText(rec));
    if (rec.composition === "ready" && video.hidden) {
      video.src = api.media(id, "composed");
      video.hidden = false;
    }
    clearTimeout(timer);
    if (rec.composition === "pending" || !ended) timer = setTimeout(refresh, POLL_MS);
  }

  async function refresh() {
    try {
      show(await api.call("GET", `/recordings/${encodeURIComponent(id)}`));
    } catch (err) {
      clearTimeout(timer);
      say(err.message, "error");
    }
  }

  $("#compose").addEventListener("click", async () => {
    try {
      show(await api.call("POST", `/recordings/${encodeURIComponent(id)}/composition`));
    } catch (err) { toast(err.message, { kind: "error" }); }
  });
  $("#delete").addEventListener("click", async (event) => {
    if (!await confirmInline(event.currentTarget, "Delete this recording for everyone?", h)) return;
    try {
      await api.call("DELETE", `/recordings/${encodeURIComponent(id)}`);
      clearTimeout(timer);
      video.removeAttribute("src");
      video.hidden = true;
      for (const el of ["#download-composed", "#download-tracks", "#compose", "#delete"]) $(el).hidden = true;
      say("The recording was deleted.");
    } catch (err) { toast(err.message, { kind: "error" }); }
  });

  async function start() {
    if (!credential.length) {
      say("This page needs the recording's link.", "error");
      return;
    }
    await refresh();
  }

  return { id, start, refresh };
}

createPlayerPage().start();
