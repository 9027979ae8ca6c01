// The signaling protocol of docs/protocol.md, client side: the message types and one
// builder per client message (the connection that carries them is signaling.js).
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
  EXTEND: "extend",
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
  PARTICIPANTS_JOINED: "participants_joined", // several participant_joined in one frame
  PARTICIPANTS_LEFT: "participants_left", // several participant_left in one frame
  PARTICIPANT_UPDATED: "participant_updated",
  PERMISSIONS: "permissions",
  ROOM_UPDATED: "room_updated",
  CHAT: "chat",
  MEETING_ENDING: "meeting_ending", // the countdown: 5 and 1 minute before the meeting's end
  MEETING_EXTENDED: "meeting_extended",
  OK: "ok",
  PONG: "pong",
  ENDED: "ended",
  ERROR: "error",
  PUBLISH_ANSWER: "publish_answer",
  SUBSCRIBE_OFFER: "subscribe_offer",
  ICE: "ice",
  ACTIVE_SPEAKER: "active_speaker",
  RECORDING: "recording",
  RECONNECT: "reconnect", // the meeting moves to another node: reconnect and resume with the token
  MEDIA_RESET: "media_reset", // the SFU behind this session changed: new peer connections, same socket
});

export const KNOCK_STATES = Object.freeze(["waiting", "held", "admitted", "rejected", "cancelled"]);
export const ENDED_REASONS = Object.freeze([
  "left", "kicked", "meeting_ended", "room_deleted", "room_expired", "member_deleted", "server_shutdown",
  "max_duration", "end_date", "solo_timeout",
]);

/** Message builders: one per client message, fields exactly as documented. */
export const msg = Object.freeze({
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
  extend: (minutes) => ({ type: CLIENT.EXTEND, minutes }),
  promote: (participantId) => ({ type: CLIENT.PROMOTE, participantId }),
  demote: (participantId) => ({ type: CLIENT.DEMOTE, participantId }),
  chat: (text) => ({ type: CLIENT.CHAT, text }),
  ping: () => ({ type: CLIENT.PING }),
  startRecording: () => ({ type: CLIENT.START_RECORDING }),
  stopRecording: () => ({ type: CLIENT.STOP_RECORDING }),
  publish: (sdp, sources) => ({ type: CLIENT.PUBLISH, sdp, sources }),
  subscribeAnswer: (sdp) => ({ type: CLIENT.SUBSCRIBE_ANSWER, sdp }),
  ice: (pc, candidate) => ({ type: CLIENT.ICE, pc, candidate }),
});

/** A merged roster frame's type -> the type of each message it holds (signaling/wire/merge.py). */
export const MERGED = Object.freeze({
  [SERVER.PARTICIPANTS_JOINED]: SERVER.PARTICIPANT_JOINED,
  [SERVER.PARTICIPANTS_LEFT]: SERVER.PARTICIPANT_LEFT,
});
