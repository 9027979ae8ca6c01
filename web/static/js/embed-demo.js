// /embed-demo: embeds a room with <antechamber-room> (/embed.js), logs its events and offers its
// commands as buttons (docs/embed.md). Served by the server itself, so it frames as 'self'.
import "/embed.js";

const EVENTS = ["ready", "join", "leave", "knocking", "knock", "participant_join", "participant_leave",
  "participantupdate", "microphone_toggle", "camera_toggle", "screenshare_toggle", "recording_status_change",
  "connection_status_change", "meeting_ending_soon", "meeting_end"];
const COMMANDS = [["toggleMicrophone", "Microphone"], ["toggleCamera", "Camera"], ["toggleScreenshare", "Screen"],
  ["leaveRoom", "Leave"], ["endMeeting", "End meeting"], ["admitKnock", "Admit (id)"], ["rejectKnock", "Reject (id)"],
  ["holdKnock", "Hold (id)"], ["startRecording", "Record"], ["stopRecording", "Stop recording"],
  ["sendChatMessage", "Chat (text)"], ["setDisplayName", "Name (text)"], ["join", "Join"]];
const WITH_ARG = new Set(["admitKnock", "rejectKnock", "holdKnock", "sendChatMessage", "setDisplayName"]);

const $ = (sel) => document.querySelector(sel);
const log = (text) => {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("#demo-log").prepend(li);
};

let element = null;
$("#demo-form").addEventListener("submit", (event) => {
  event.preventDefault();
  element?.remove();
  element = document.createElement("antechamber-room");
  const name = $("#demo-name").value.trim();
  if (name) element.setAttribute("displayName", name);
  if ($("#demo-minimal").checked) element.setAttribute("minimal", "");
  if ($("#demo-skip").checked) element.setAttribute("precallReview", "off");
  for (const type of EVENTS) {
    element.addEventListener(type, (e) => {
      log(`${type} ${JSON.stringify(e.detail)}`);
      if (type === "knock") $("#demo-arg").value = e.detail.knockId;
    });
  }
  element.setAttribute("room", $("#demo-room").value);
  $("#demo-frame").append(element);
});

for (const [command, label] of COMMANDS) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "btn-sm";
  button.textContent = label;
  button.dataset.command = command;
  button.addEventListener("click", async () => {
    if (!element) return;
    const args = WITH_ARG.has(command) ? [$("#demo-arg").value] : [];
    try {
      await element[command](...args);
      log(`→ ${command} ok`);
    } catch (err) {
      log(`→ ${command} failed: ${err.code} ${err.message}`);
    }
  });
  $("#demo-commands").append(button);
}
