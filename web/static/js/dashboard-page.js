// The dashboard page (dashboard.html): paste an API key (session storage only), create
// rooms, list them with their links, lock/unlock, delete, and manage each room's
// recordings. `createDashboard()` builds the page's app object; the one call at the
// bottom of this file starts it.
import { h, $, toast, copyText } from "./dom.js";
import { ApiClient, ApiError } from "./rest-client.js";
import { createWebhookLog } from "./webhook-log.js";

const KEY_STORAGE = "antechamber.apiKey";

function defaultEndDate() {
  const d = new Date(Date.now() + 7 * 24 * 3600 * 1000);
  d.setMinutes(0, 0, 0);
  return toLocalInput(d);
}

function toLocalInput(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function describe(err) {
  if (err instanceof ApiError) {
    const details = (err.details || []).map((d) => `${d.field}: ${d.message}`).join("; ");
    return details ? `${err.message} (${details})` : err.message;
  }
  return `Could not reach the server: ${err.message}`;
}

function linkLine(label, url, testid) {
  const input = h("input", { type: "text", readonly: true, value: url, "aria-label": `${label} link`,
    dataset: { testid: `${testid}-link` } });
  input.addEventListener("focus", () => input.select());
  return h("div", { class: "link-line" },
    h("span", { class: "label" }, label),
    input,
    h("button", { type: "button", class: "btn-sm", dataset: { testid: `copy-${testid}-link` },
      "aria-label": `Copy the ${label.toLowerCase()} link`,
      onclick: async () => toast(await copyText(url) ? `${label} link copied.` : "Copy failed: select the link and copy it.",
        { timeout: 2500 }) }, "Copy"),
    h("a", { class: "btn btn-sm", href: url, target: "_blank", rel: "noopener noreferrer",
      "aria-label": `Open the ${label.toLowerCase()} link in a new tab` }, "Open"));
}

function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The dashboard's app object: its state (the REST client once connected, the room list). */
export function createDashboard() {
  const state = { api: null, nextPageToken: null, rooms: new Map() };

  const keyCard = $("#key-card");
  const dash = $("#dash");
  const list = $("#room-list");
  const listStatus = $("#list-status");
  const webhookLog = createWebhookLog(() => state.api, describe);

  function showListStatus(text, kind = "") {
    listStatus.hidden = !text;
    listStatus.className = `notice ${kind}`;
    listStatus.textContent = text || "";
  }

  // ---------- API key ----------
  async function connect(key, { quiet = false } = {}) {
    const api = new ApiClient(key);
    const error = $("#key-error");
    error.hidden = true;
    try {
      const page = await api.listRooms();
      state.api = api;
      sessionStorage.setItem(KEY_STORAGE, key);
      keyCard.hidden = true;
      dash.hidden = false;
      $("#forget-key").hidden = false;
      renderRooms(page, { replace: true });
      webhookLog.refresh();
      if (!quiet) toast("Connected.", { timeout: 2500 });
    } catch (err) {
      sessionStorage.removeItem(KEY_STORAGE);
      error.textContent = err instanceof ApiError && err.status === 401
        ? "That API key was not accepted." : `Could not reach the server: ${err.message}`;
      error.hidden = false;
    }
  }

  function onKeySubmit(event) {
    event.preventDefault();
    const key = $("#api-key").value.trim();
    if (key) connect(key);
  }

  function forgetKey() {
    sessionStorage.removeItem(KEY_STORAGE);
    state.api = null;
    list.replaceChildren();
    dash.hidden = true;
    keyCard.hidden = false;
    $("#forget-key").hidden = true;
    $("#api-key").value = "";
    $("#api-key").focus();
  }

  // ---------- create ----------
  async function onCreateSubmit(event) {
    event.preventDefault();
    const error = $("#create-error");
    error.hidden = true;
    const button = $("#create-room");
    const endValue = $("#end-date").value;
    const end = endValue ? new Date(endValue).getTime() : NaN;
    if (!Number.isFinite(end) || end < Date.now() + 3600 * 1000) {
      error.textContent = "Pick an end date at least one hour from now.";
      error.hidden = false;
      $("#end-date").focus();
      return;
    }
    const body = {
      autoDeletionDate: end,
      isLocked: $("#locked").checked,
      roomMode: new FormData(event.target).get("roomMode") || "normal",
    };
    const name = $("#room-name").value.trim();
    if (name) body.roomName = name;
    button.disabled = true;
    try {
      const room = await state.api.createRoom(body);
      state.rooms.set(room.roomId, room);
      list.querySelector(".empty")?.remove();
      list.prepend(roomRow(room));
      $("#room-name").value = "";
      toast(`Room “${room.roomName}” created.`, { timeout: 3000 });
    } catch (err) {
      error.textContent = describe(err);
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  // ---------- list ----------
  async function refresh() {
    if (!state.api) return;
    try {
      renderRooms(await state.api.listRooms(), { replace: true });
    } catch (err) {
      showListStatus(describe(err), "error");
    }
  }

  function renderRooms(page, { replace }) {
    if (replace) {
      list.replaceChildren();
      state.rooms.clear();
    }
    for (const room of page.rooms || []) {
      state.rooms.set(room.roomId, room);
      list.append(roomRow(room));
    }
    state.nextPageToken = page.pagination?.isTruncated ? page.pagination.nextPageToken : null;
    $("#more-row").hidden = !state.nextPageToken;
    showListStatus("");
    if (!list.children.length) {
      list.append(h("li", { class: "empty" }, "No rooms yet. Create one on the left."));
    }
  }

  async function loadMore() {
    try {
      renderRooms(await state.api.listRooms(state.nextPageToken), { replace: false });
    } catch (err) {
      showListStatus(describe(err), "error");
    }
  }

  function roomRow(room) {
    const guestUrl = room.access?.anonymous?.speaker?.url;
    const hostUrl = room.access?.anonymous?.moderator?.url;
    const li = h("li", { class: "room-row", dataset: { testid: "room-row", roomId: room.roomId } });
    const ends = room.autoDeletionDate ? new Date(room.autoDeletionDate).toLocaleString() : "no end date";
    const lockBtn = h("button", { type: "button", class: "btn-sm", dataset: { testid: "room-lock-toggle" },
      "aria-pressed": String(Boolean(room.isLocked)) }, room.isLocked ? "Unlock" : "Lock");
    lockBtn.addEventListener("click", async () => {
      lockBtn.disabled = true;
      try {
        const updated = await state.api.setLocked(room.roomId, !room.isLocked);
        const fresh = roomRow({ ...room, ...updated, isLocked: updated?.isLocked ?? !room.isLocked });
        li.replaceWith(fresh);
      } catch (err) {
        toast(describe(err), { kind: "error" });
        lockBtn.disabled = false;
      }
    });
    const deleteBtn = h("button", { type: "button", class: "btn-sm", dataset: { testid: "delete-room" } }, "Delete");
    let armed = null;
    deleteBtn.addEventListener("click", async () => {
      if (!armed) {
        // Two-step delete: the first click arms the button for a few seconds.
        deleteBtn.textContent = "Click again to delete";
        deleteBtn.classList.add("btn-danger");
        armed = setTimeout(() => {
          armed = null;
          deleteBtn.textContent = "Delete";
          deleteBtn.classList.remove("btn-danger");
        }, 4000);
        return;
      }
      clearTimeout(armed);
      deleteBtn.disabled = true;
      try {
        const result = await state.api.deleteRoom(room.roomId);
        if (result && result.room && result.room.status === "closed") {
          toast(result.message || "The room has recordings, so it was closed instead of deleted.");
          li.replaceWith(roomRow(result.room));
        } else {
          li.remove();
          toast(result?.message || "Room deleted.", { timeout: 2500 });
          if (!list.children.length) list.append(h("li", { class: "empty" }, "No rooms yet. Create one on the left."));
        }
      } catch (err) {
        toast(describe(err), { kind: "error" });
        deleteBtn.disabled = false;
      }
    });
    const recBox = h("div", { class: "recordings", hidden: true });
    const recBtn = h("button", { type: "button", class: "btn-sm", "aria-expanded": "false",
      dataset: { testid: "show-recordings" } }, "Recordings");
    recBtn.addEventListener("click", async () => {
      const open = recBox.hidden;
      recBox.hidden = !open;
      recBtn.setAttribute("aria-expanded", String(open));
      if (open) await loadRecordings(room, recBox);
    });

    li.append(
      h("header", {},
        h("h3", {}, room.roomName || room.roomId),
        h("span", { class: "pill" }, room.roomMode === "group" ? "Group" : "Small"),
        room.isLocked ? h("span", { class: "pill locked" }, "Locked") : h("span", { class: "pill" }, "Open door"),
        room.status === "active_meeting" ? h("span", { class: "pill host" }, "Meeting live") : null,
        room.status === "closed" ? h("span", { class: "pill" }, "Closed") : null),
      h("div", { class: "small dim" }, `Available until ${ends}`),
      guestUrl ? linkLine("Guest", guestUrl, "guest") : null,
      hostUrl ? linkLine("Host", hostUrl, "host") : null,
      h("div", { class: "room-actions" }, lockBtn, recBtn, deleteBtn),
      recBox);
    return li;
  }

  // ---------- recordings ----------

  async function loadRecordings(room, box) {
    box.replaceChildren(h("p", { class: "small dim" }, "Loading recordings…"));
    let page;
    try {
      page = await state.api.listRecordings(room.roomId);
    } catch (err) {
      const text = err instanceof ApiError && err.status === 404
        ? "Recordings are not available on this server yet." : describe(err);
      box.replaceChildren(h("p", { class: "small dim" }, text));
      return;
    }
    const items = page.recordings || page.results || [];
    if (!items.length) {
      box.replaceChildren(h("p", { class: "small dim" }, "No recordings for this room."));
      return;
    }
    const player = h("video", { controls: true, hidden: true, preload: "metadata" });
    const ul = h("ul");
    for (const rec of items) ul.append(recordingItem(rec, player));
    box.replaceChildren(ul, player);
  }

  function recordingItem(rec, player) {
    const id = rec.recordingId || rec.id;
    const started = rec.startDate ? new Date(rec.startDate).toLocaleString() : "";
    const secs = Number(rec.duration);
    const duration = Number.isFinite(secs) ? `${Math.round(secs > 10000 ? secs / 1000 : secs)} s` : "";
    const ready = rec.status === "complete" || rec.status === "failed";
    const li = h("li", { dataset: { testid: "recording-row", recordingId: id } },
      h("span", { class: "grow" }, `${started} · ${duration} ${formatSize(Number(rec.size))}`.trim()),
      h("span", { class: "pill" }, rec.status || ""));
    const play = h("button", { type: "button", class: "btn-sm", disabled: !ready }, "Play");
    play.addEventListener("click", async () => {
      try {
        player.src = await state.api.recordingUrl(id);
        player.hidden = false;
        await player.play().catch(() => {});
      } catch (err) { toast(describe(err), { kind: "error" }); }
    });
    const download = h("button", { type: "button", class: "btn-sm", disabled: !ready }, "Download");
    download.addEventListener("click", async () => {
      try {
        const url = await state.api.recordingUrl(id);
        const a = h("a", { href: url, download: "" });
        document.body.append(a);
        a.click();
        a.remove();
      } catch (err) { toast(describe(err), { kind: "error" }); }
    });
    const share = h("button", { type: "button", class: "btn-sm", disabled: !ready }, "Copy share link");
    share.addEventListener("click", async () => {
      try {
        const url = await state.api.recordingUrl(id);
        toast(await copyText(url) ? "Share link copied (it expires)." : url, { timeout: 4000 });
      } catch (err) { toast(describe(err), { kind: "error" }); }
    });
    const del = h("button", { type: "button", class: "btn-sm", disabled: rec.status === "active" }, "Delete");
    del.addEventListener("click", async () => {
      if (del.dataset.armed !== "1") {
        del.dataset.armed = "1";
        del.textContent = "Click again to delete";
        del.classList.add("btn-danger");
        return;
      }
      try {
        await state.api.deleteRecording(id);
        li.remove();
        toast("Recording deleted.", { timeout: 2500 });
      } catch (err) { toast(describe(err), { kind: "error" }); }
    });
    li.append(play, download, share, del);
    return li;
  }

  // ---------- start ----------
  function start() {
    $("#key-form").addEventListener("submit", onKeySubmit);
    $("#forget-key").addEventListener("click", forgetKey);
    $("#end-date").value = defaultEndDate();
    $("#end-date").min = toLocalInput(new Date(Date.now() + 3600 * 1000));
    $("#create-form").addEventListener("submit", onCreateSubmit);
    $("#refresh").addEventListener("click", refresh);
    $("#more").addEventListener("click", loadMore);
    webhookLog.start();
    $("#key-save").disabled = false; // disabled in the HTML until this script is ready
    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) connect(saved, { quiet: true });
    else $("#api-key").focus();
  }

  return { state, start };
}

createDashboard().start();
