// The meeting view: video grid (one tile per participant), screen share on the big
// stage, active-speaker highlight, people list with host actions, chat log.
import { h, $ } from "./dom.js";
import { icon } from "./icons.js";
import { initials } from "./format.js";
import { t } from "./i18n.js";
import { ROLE_NAMES } from "./room-link.js";

/** Columns and tile size giving the largest 16:9 tiles for n tiles in a w x h box. */
export function bestLayout(n, w, hgt, gap = 10) {
  let best = { cols: 1, tileW: Math.max(0, w), tileH: Math.max(0, hgt) };
  let bestArea = -1;
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const rows = Math.ceil(Math.max(1, n) / cols);
    const cellW = (w - gap * (cols - 1)) / cols;
    const cellH = (hgt - gap * (rows - 1)) / rows;
    const tileW = Math.min(cellW, cellH * 16 / 9);
    const area = tileW * tileW * 9 / 16;
    if (area > bestArea) { bestArea = area; best = { cols, tileW, tileH: tileW * 9 / 16 }; }
  }
  // On tall, narrow screens a single column of taller tiles reads better.
  if (n <= 2 && w < 600 && hgt > w) {
    return { cols: 1, tileW: w, tileH: Math.min((hgt - gap * (n - 1)) / n, w * 4 / 3) };
  }
  return best;
}

export class MeetingView {
  /** actions: {mute(pid), kick(pid), sendToWaiting(pid), promote(pid), demote(pid)} */
  constructor(actions) {
    this.actions = actions;
    this.grid = $("#grid");
    this.stage = $("#stage");
    this.screenArea = $("#screen-area");
    this.peopleList = $("#people-list");
    this.chatLog = $("#chat-log");
    this.participants = new Map(); // pid -> participant
    this.tiles = new Map(); // pid -> tile element
    this.remote = new Map(); // pid -> {microphone, camera, screen}
    this.me = null; // {participantId, role, permissions}
    this.localVideo = null;
    this.localScreen = null;
    this.speakerTimer = null;
    new ResizeObserver(() => this.layout()).observe(this.stage);
  }

  reset() {
    this.participants.clear();
    for (const tile of this.tiles.values()) tile.remove();
    this.tiles.clear();
    this.remote = new Map();
    this.screenArea.replaceChildren();
    this.peopleList.replaceChildren();
  }

  setMe(me) {
    this.me = me;
    this.renderPeople();
  }

  setParticipants(list) {
    this.participants.clear();
    for (const p of list || []) this.participants.set(p.participantId, p);
    for (const pid of [...this.tiles.keys()]) if (!this.participants.has(pid)) this.removeTile(pid);
    for (const p of this.participants.values()) this.renderTile(p);
    this.renderEmpty();
    this.renderScreens();
    this.renderPeople();
    this.layout();
  }

  upsert(p) {
    this.participants.set(p.participantId, p);
    this.renderTile(p);
    this.renderScreens();
    this.renderPeople();
    this.layout();
  }

  remove(pid) {
    this.participants.delete(pid);
    this.remote.delete(pid);
    this.removeTile(pid);
    this.renderScreens();
    this.renderPeople();
    this.layout();
  }

  isMe(pid) {
    return this.me && this.me.participantId === pid;
  }

  displayName(pid) {
    const p = this.participants.get(pid);
    return p ? p.displayName : t("meeting.someone");
  }

  // ---------- tiles ----------
  removeTile(pid) {
    const tile = this.tiles.get(pid);
    if (tile) tile.remove();
    this.tiles.delete(pid);
    this.renderEmpty();
  }

  renderEmpty() {
    const empty = $("#grid-empty");
    if (empty) empty.hidden = this.tiles.size > 0;
  }

  /** Viewers are an audience: they are in the people list, not in the grid. */
  renderTile(p) {
    const pid = p.participantId;
    if (p.role === "viewer") {
      this.removeTile(pid);
      this.renderEmpty();
      return;
    }
    let tile = this.tiles.get(pid);
    if (!tile) {
      const self = this.isMe(pid);
      tile = h("div", { class: `tile${self ? " self" : ""}`, dataset: { testid: "tile", participantId: pid } },
        h("video", { autoplay: true, playsinline: true, muted: true, class: self ? "mirror" : "" }),
        self ? null : h("audio", { autoplay: true }),
        h("div", { class: "avatar" }, h("span", {}, "")),
        h("div", { class: "reconnecting", dataset: { testid: "reconnecting" }, role: "status" }, t("meeting.tileReconnecting")),
        h("div", { class: "nameplate" },
          h("span", { class: "muted-icon", title: t("meeting.micOffIcon") }, icon("micOff")),
          h("span", { class: "name" }, "")));
      tile.querySelector("video").muted = true; // audio plays through the <audio> element
      this.tiles.set(pid, tile);
      this.grid.append(tile);
      this.renderEmpty();
    }
    const self = this.isMe(pid);
    const name = self ? t("meeting.nameYou", { name: p.displayName }) : p.displayName;
    tile.querySelector(".name").textContent = name;
    tile.querySelector(".avatar span").textContent = initials(p.displayName);
    tile.setAttribute("aria-label", name);
    const muted = p.muted || {};
    tile.querySelector(".muted-icon").hidden = !muted.audio;
    tile.dataset.audioMuted = String(Boolean(muted.audio));
    tile.dataset.videoMuted = String(Boolean(muted.video));
    tile.dataset.connection = p.connection || "connected"; // "reconnecting": websocket down, place kept
    tile.querySelector(".reconnecting").hidden = tile.dataset.connection !== "reconnecting";
    const tracks = self ? { camera: this.localVideo } : (this.remote.get(pid) || {});
    const video = tile.querySelector("video");
    const camera = muted.video ? null : tracks.camera || null;
    setTrack(video, camera);
    video.hidden = !camera;
    tile.querySelector(".avatar").hidden = Boolean(camera);
    const audio = tile.querySelector("audio");
    if (audio) setTrack(audio, tracks.microphone || null);
  }

  /** Remote tracks per participant from the media session. */
  setRemote(byParticipant) {
    this.remote = byParticipant;
    for (const p of this.participants.values()) this.renderTile(p);
    this.renderScreens();
    this.layout();
  }

  setLocal({ videoTrack, screenTrack }) {
    this.localVideo = videoTrack || null;
    this.localScreen = screenTrack || null;
    if (this.me && this.participants.has(this.me.participantId)) {
      this.renderTile(this.participants.get(this.me.participantId));
    }
    this.renderScreens();
    this.layout();
  }

  renderScreens() {
    const shares = [];
    for (const p of this.participants.values()) {
      const track = this.isMe(p.participantId) ? this.localScreen : (this.remote.get(p.participantId) || {}).screen;
      if (track && !(p.muted && p.muted.screen)) shares.push([p, track]);
    }
    const wanted = new Set(shares.map(([p]) => p.participantId));
    for (const el of [...this.screenArea.children]) if (!wanted.has(el.dataset.participantId)) el.remove();
    // The stage shows one share large (the latest); others stay as they are in the grid.
    const latest = shares[shares.length - 1];
    if (latest) {
      const [p, track] = latest;
      let tile = this.screenArea.querySelector(`[data-participant-id="${CSS.escape(p.participantId)}"]`);
      if (!tile) {
        this.screenArea.replaceChildren();
        tile = h("div", { class: "tile screen", dataset: { testid: "screen-tile", participantId: p.participantId } },
          h("video", { autoplay: true, playsinline: true, muted: true }),
          h("div", { class: "nameplate" }, h("span", { class: "name" }, "")));
        tile.querySelector("video").muted = true;
        this.screenArea.append(tile);
      }
      tile.querySelector(".name").textContent = t("meeting.screenOf", { name: p.displayName });
      setTrack(tile.querySelector("video"), track);
    }
    this.screenArea.hidden = !latest;
    this.stage.classList.toggle("has-screen", Boolean(latest));
  }

  layout() {
    const n = this.tiles.size;
    if (this.stage.classList.contains("has-screen")) {
      for (const p of ["--cols", "--tile-w", "--tile-h"]) this.grid.style.removeProperty(p);
      return;
    }
    const box = this.grid.getBoundingClientRect();
    const { cols, tileW, tileH } = bestLayout(n, box.width, box.height);
    this.grid.style.setProperty("--cols", String(cols));
    this.grid.style.setProperty("--tile-w", `${Math.floor(tileW)}px`);
    this.grid.style.setProperty("--tile-h", `${Math.floor(tileH)}px`);
  }

  setActiveSpeaker(pid) {
    for (const [id, tile] of this.tiles) tile.classList.toggle("speaking", id === pid);
    clearTimeout(this.speakerTimer);
    // Fade the highlight if no newer speaker event arrives.
    this.speakerTimer = setTimeout(() => {
      for (const tile of this.tiles.values()) tile.classList.remove("speaking");
    }, 2500);
  }

  // ---------- people ----------
  renderPeople() {
    const perms = (this.me && this.me.permissions) || {};
    const moderate = Boolean(perms.canKickParticipants);
    const makeMod = Boolean(perms.canMakeModerator);
    const items = [...this.participants.values()].sort((a, b) =>
      (this.isMe(b.participantId) - this.isMe(a.participantId)) || (a.joinedAt || 0) - (b.joinedAt || 0));
    const rows = items.map((p) => {
      const pid = p.participantId;
      const self = this.isMe(pid);
      const muted = p.muted || {};
      const actions = h("div", { class: "actions" });
      if (!self && moderate && !muted.audio && p.role !== "viewer") {
        actions.append(h("button", { type: "button", class: "btn-sm", dataset: { testid: "mute" },
          "aria-label": t("people.muteName", { name: p.displayName }), onclick: () => this.actions.mute(pid) }, t("people.mute")));
      }
      if (!self && makeMod && p.role === "guest") {
        actions.append(h("button", { type: "button", class: "btn-sm", dataset: { testid: "promote" },
          "aria-label": t("people.makeHostName", { name: p.displayName }), onclick: () => this.actions.promote(pid) }, t("people.makeHost")));
      }
      if (!self && makeMod && p.role === "host") {
        actions.append(h("button", { type: "button", class: "btn-sm", dataset: { testid: "demote" },
          "aria-label": t("people.makeGuestName", { name: p.displayName }), onclick: () => this.actions.demote(pid) }, t("people.makeGuest")));
      }
      if (!self && moderate) {
        actions.append(
          h("button", { type: "button", class: "btn-sm", dataset: { testid: "send-to-waiting" },
            "aria-label": t("people.toWaitingName", { name: p.displayName }),
            onclick: () => this.actions.sendToWaiting(pid) }, t("people.toWaiting")),
          h("button", { type: "button", class: "btn-sm btn-danger", dataset: { testid: "kick" },
            "aria-label": t("people.removeName", { name: p.displayName }), onclick: () => this.actions.kick(pid) }, t("people.remove")));
      }
      return h("li", { class: "person", dataset: { testid: "person", participantId: pid } },
        h("span", { class: "initial", "aria-hidden": "true" }, initials(p.displayName)),
        h("div", { class: "who" },
          h("div", { class: "name" }, self ? t("meeting.nameYou", { name: p.displayName }) : p.displayName),
          h("div", { class: "role" }, ROLE_NAMES[p.role] ? t(ROLE_NAMES[p.role]) : p.role)),
        muted.audio ? h("span", { class: "muted-icon", title: t("meeting.micOffIcon"), "aria-label": t("people.micOff") },
          icon("micOff")) : null,
        actions);
    });
    this.peopleList.replaceChildren(...rows);
    $("#people-count").textContent = String(items.length);
  }

  // ---------- chat ----------
  addChat(frame) {
    const from = frame.from || {};
    const self = this.isMe(from.participantId);
    const when = frame.sentAt ? new Date(frame.sentAt) : new Date();
    const li = h("li", { dataset: { testid: "chat-message" }, class: self ? "mine" : "" },
      h("div", { class: "meta" }, `${self ? t("meeting.you") : from.displayName || t("meeting.someone")} · ${when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`),
      h("div", { class: "text" }, frame.text || ""));
    const atBottom = this.chatLog.scrollTop + this.chatLog.clientHeight >= this.chatLog.scrollHeight - 30;
    this.chatLog.append(li);
    if (atBottom || self) this.chatLog.scrollTop = this.chatLog.scrollHeight;
  }
}

function setTrack(el, track) {
  const current = el.srcObject && el.srcObject.getTracks()[0];
  if (current === track || (!track && !el.srcObject)) return;
  el.srcObject = track ? new MediaStream([track]) : null;
  if (track) el.play().catch(() => { /* autoplay policy: plays after the next user gesture */ });
}
