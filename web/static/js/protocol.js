// The signaling protocol of docs/protocol.md, client side: JSON text frames over /ws.
// Keep this file in step with docs/protocol.md.

/** Client -> server message types (docs/protocol.md, "Client -> server"). */
export const CLIENT = Object.freeze({
  JOIN: "join",
  LEAVE: "leave",
  CANCEL_KNOCK: "cancel_knock",
  ADMIT: "admit",
  ADMIT_ALL: "admit_all",
  REJECT: "reject",
  HOLD: "hold",
  LOCK: "lock",
  KICK: "kick",
  MUTE: "mute",
  SET_MUTED: "set_muted",
  SET_DISPLAY_NAME: "set_display_name",
  SEND_TO_WAITING_ROOM: "send_to_waiting_room",
  END_MEETING: "end_meeting",
  PROMOTE: "promote",
  DEMOTE: "demote",
  CHAT: "chat",
  PING: "ping",
  START_RECORDING: "start_recording",
  STOP_RECORDING: "stop_recording",
  PUBLISH: "publish",
  SUBSCRIBE_ANSWER: "subscribe_answer",
  ICE: "ice",
});

/** Server -> client message types. */
export const SERVER = Object.freeze({
  JOINED: "joined",
  KNOCK_STATUS: "knock_status",
  KNOCKS: "knocks",
  PARTICIPANT_JOINED: "participant_joined",
  PARTICIPANT_LEFT: "participant_left",
  PARTICIPANT_UPDATED: "participant_updated",
  PERMISSIONS: "permissions",
  ROOM_UPDATED: "room_updated",
  CHAT: "chat",
  OK: "ok",
  PONG: "pong",
  ENDED: "ended",
  ERROR: "error",
  PUBLISH_ANSWER: "publish_answer",
  SUBSCRIBE_OFFER: "subscribe_offer",
  ICE: "ice",
  ACTIVE_SPEAKER: "active_speaker",
  RECORDING: "recording",
});

export const KNOCK_STATES = Object.freeze(["waiting", "held", "admitted", "rejected", "cancelled"]);
export const ENDED_REASONS = Object.freeze([
  "left", "kicked", "meeting_ended", "room_deleted", "room_expired", "member_deleted", "server_shutdown",
]);

/** Message builders: one per client message, fields exactly as documented. */
export const msg = {
  // resumeToken: from our own earlier `joined` or pending `knock_status`, to take our place
  // (in the meeting, or our knock in the waiting queue) back after a drop
  join: (roomName, displayName, key, resumeToken) => ({
    type: CLIENT.JOIN, roomName, displayName, ...(key ? { key } : {}), ...(resumeToken ? { resumeToken } : {}),
  }),
  leave: () => ({ type: CLIENT.LEAVE }),
  cancelKnock: () => ({ type: CLIENT.CANCEL_KNOCK }),
  admit: (knockId) => ({ type: CLIENT.ADMIT, knockId }),
  admitAll: () => ({ type: CLIENT.ADMIT_ALL }),
  reject: (knockId, reason) => (reason ? { type: CLIENT.REJECT, knockId, reason } : { type: CLIENT.REJECT, knockId }),
  hold: (knockId, message) => ({ type: CLIENT.HOLD, knockId, message }),
  lock: (locked) => ({ type: CLIENT.LOCK, locked: Boolean(locked) }),
  kick: (participantId, reason) => (reason ? { type: CLIENT.KICK, participantId, reason }
    : { type: CLIENT.KICK, participantId }),
  mute: (participantId, kind) => ({ type: CLIENT.MUTE, participantId, kind }),
  setMuted: (kind, muted) => ({ type: CLIENT.SET_MUTED, kind, muted: Boolean(muted) }),
  setDisplayName: (displayName) => ({ type: CLIENT.SET_DISPLAY_NAME, displayName }),
  sendToWaitingRoom: (participantId, message) => (message
    ? { type: CLIENT.SEND_TO_WAITING_ROOM, participantId, message }
    : { type: CLIENT.SEND_TO_WAITING_ROOM, participantId }),
  endMeeting: () => ({ type: CLIENT.END_MEETING }),
  promote: (participantId) => ({ type: CLIENT.PROMOTE, participantId }),
  demote: (participantId) => ({ type: CLIENT.DEMOTE, participantId }),
  chat: (text) => ({ type: CLIENT.CHAT, text }),
  ping: () => ({ type: CLIENT.PING }),
  startRecording: () => ({ type: CLIENT.START_RECORDING }),
  stopRecording: () => ({ type: CLIENT.STOP_RECORDING }),
  publish: (sdp, sources) => ({ type: CLIENT.PUBLISH, sdp, sources }),
  subscribeAnswer: (sdp) => ({ type: CLIENT.SUBSCRIBE_ANSWER, sdp }),
  ice: (pc, candidate) => ({ type: CLIENT.ICE, pc, candidate }),
};

/** An `error` reply from the server. */
export class SignalingError extends Error {
  constructor(frame) {
    super(frame.message || frame.code || "error");
    this.code = frame.code || "error";
    this.field = frame.field;
    this.retryAfter = frame.retryAfter;
  }
}

/**
 * One websocket to /ws. Emits every server frame as an event named after its
 * type (detail = the frame), plus "open" and "close" (detail = {code, reason}).
 * `request()` sends a message with an id and resolves with the reply that
 * echoes it (or rejects with a SignalingError).
 */
export class Signaling extends EventTarget {
  constructor(url = Signaling.defaultUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
  }

  static defaultUrl() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}/ws`;
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  /** Open the socket; resolves once open, rejects if it closes first. */
  open() {
    this.close();
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.addEventListener("open", () => {
        opened = true;
        this.emit("open", {});
        resolve();
      });
      ws.addEventListener("message", (event) => this.receive(event.data));
      ws.addEventListener("close", (event) => {
        if (this.ws !== ws) return; // an older socket we replaced
        this.ws = null;
        for (const { reject: fail, timer } of this.pending.values()) {
          clearTimeout(timer);
          fail(new SignalingError({ code: "disconnected", message: "connection lost" }));
        }
        this.pending.clear();
        if (!opened) reject(new Error("could not connect"));
        this.emit("close", { code: event.code, reason: event.reason, wasOpen: opened });
      });
    });
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(1000, "bye"); } catch { /* already closed */ }
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  on(type, handler) {
    this.addEventListener(type, (event) => handler(event.detail));
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      console.warn("antechamber: ignoring a frame that is not JSON");
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    if (frame.id !== undefined && this.pending.has(frame.id)) {
      const { resolve, reject, timer } = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      clearTimeout(timer);
      if (frame.type === SERVER.ERROR) reject(new SignalingError(frame));
      else resolve(frame);
    }
    this.emit(frame.type, frame);
  }

  /** Fire and forget. Returns false when the socket is not open. */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send with an id and wait for the reply that echoes it. */
  request(message, { timeout = 15000 } = {}) {
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new SignalingError({ code: "disconnected", message: "not connected" }));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalingError({ code: "timeout", message: "the server did not answer" }));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 15 s. */
export function backoffDelay(attempt) {
  const base = Math.min(15000, 500 * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
