// The room page (room.html): `createApp()` builds the page's one app object (the
// signaling connection, local media, the state, the views and the flow) and passes
// the parts to each other explicitly; `app.start()` attaches the handlers and shows the
// first view. Importing any module of the page only defines things: the one call at the
// bottom of this file is what starts the page.
import { setDismissLabel, toast } from "./dom.js";
import { msg } from "./protocol.js";
import { Signaling } from "./signaling.js";
import { readRoomLink } from "./room-link.js";
import { LocalMedia } from "./local-media.js";
import { MeetingView } from "./meeting-view.js";
import { KnockPanel } from "./knock-panel.js";
import { KnockChime } from "./knock-chime.js";
import { DeviceCheck } from "./device-check.js";
import { WaitingView } from "./waiting-view.js";
import { createControlsView } from "./controls-view.js";
import { createRoomFlow } from "./room-flow.js";
import { bindButtons } from "./button-actions.js";
import { askConfirm } from "./confirm-dialog.js";
import { MeetingClock } from "./meeting-clock.js";
import { readUrlParams } from "./url-params.js";
import { applyAfterStart, applyBeforeStart } from "./page-options.js";
import { startEmbedBridge } from "./embed-bridge.js";
import { applyRoomTheme } from "./room-theme.js";
import { t, translatePage } from "./i18n.js";

/** The room page's app object for `location` (the room and key come from the link). */
export function createApp(location = window.location) {
  const link = readRoomLink(location);
  const signaling = new Signaling();
  const local = new LocalMedia();
  const state = {
    phase: "join", // join | connecting | knocking | meeting | ended
    me: null,
    room: null,
    displayName: "",
    media: null,
    screenTrack: null,
    recording: false,
    reconnectAttempt: 0,
    reconnectTimer: null,
    lastEnded: null,
    unreadChat: 0,
    knockSounds: 0,
  };
  const chime = new KnockChime();
  const app = { link, signaling, local, state };

  /** Send a request; toast `done` when it succeeds, the error when it fails. */
  app.act = async (message, done) => {
    try {
      await signaling.request(message);
      if (done) toast(done, { timeout: 2500 });
    } catch (err) {
      toast(err.message, { kind: "error" });
    }
  };
  const { act } = app;
  const meeting = new MeetingView({
    mute: (pid) => act(msg.mute(pid, "audio"), t("people.muted")),
    kick: async (pid) => {
      const name = meeting.displayName(pid);
      const yes = await askConfirm({ title: t("people.removeTitle", { name }),
        text: t("people.removeText"), confirmLabel: t("people.remove") });
      if (yes) await act(msg.kick(pid), t("people.removed", { name }));
    },
    sendToWaiting: (pid) => act(msg.sendToWaitingRoom(pid, t("people.sentBackMessage")),
      t("people.sentBack", { name: meeting.displayName(pid) })),
    promote: (pid) => act(msg.promote(pid), t("people.promoted", { name: meeting.displayName(pid) })),
    demote: (pid) => act(msg.demote(pid), t("people.demoted", { name: meeting.displayName(pid) })),
  });
  app.meeting = meeting;
  app.knocks = new KnockPanel(signaling, {
    ring: () => { if (chime.play(local.ensureAudioContext())) state.knockSounds += 1; },
    onChange: (count) => app.controls.setKnockCount(count),
  });
  app.deviceCheck = new DeviceCheck(local);
  app.waiting = new WaitingView();
  app.controls = createControlsView(app);
  app.flow = createRoomFlow(app);
  app.meetingClock = new MeetingClock(signaling, state); // countdown and extend (meeting-clock.js)

  app.start = () => {
    // A handle for tests and debugging (no secrets in it: not the link's key, not the resume token).
    window.antechamber = { signaling, state, local, meeting, get media() { return state.media; } };
    app.flow.listen();
    bindButtons(app);
    app.flow.begin();
  };
  return app;
}

// URL parameters (url-params.js) shape the page around the start; the bridge tells an embedding
// page (<antechamber-room>, /embed.js) what happens and takes its commands (embed-bridge.js).
// The language (i18n.js) is chosen when that module loads; the static text is filled first.
translatePage();
setDismissLabel(t("toast.dismiss"));
const app = createApp();
const options = readUrlParams(window.location);
applyBeforeStart(app, options);
applyRoomTheme(app.link.roomSlug, options);
startEmbedBridge(app, options);
app.start();
applyAfterStart(app, options);
