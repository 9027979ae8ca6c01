// Applies the room page's URL parameters (url-params.js) to the page: before `app.start()` what
// the device check starts with and what is hidden; after it, the name and the skipped device view.
// Everything here hides or turns off; the server decides what the link may do.
import { $ } from "./dom.js";

/** Before the page starts: devices off, features hidden (CSS: room-options.css), colours (the
 * language, `lang`, is i18n.js's). */
export function applyBeforeStart(app, options) {
  const { local, signaling } = app;
  if (!options.audio) local.wantAudio = false;
  if (!options.video) local.wantVideo = false;
  const body = document.body;
  if (options.minimal) body.dataset.minimal = "";
  if (options.off.length) body.dataset.off = options.off.join(" ");
  if (options.background) {
    document.documentElement.style.setProperty("--bg", options.background);
    if (options.background === "transparent") {
      for (const name of ["--bg-sunken"]) document.documentElement.style.setProperty(name, "transparent");
      body.dataset.transparent = "";
    }
  }
  // externalId / metadata ride along with every `join` (docs/protocol.md): the server keeps them
  // with the participant for webhooks and its records.
  const extra = {};
  if (options.externalId) extra.externalId = options.externalId;
  if (options.metadata) extra.metadata = options.metadata;
  if (Object.keys(extra).length) {
    const request = signaling.request.bind(signaling);
    signaling.request = (message, opts) => request(message && message.type === "join" ? { ...message, ...extra } : message, opts);
  }
}

/** Once the join view is shown (the page may first ask the server about the room): the name,
 * and with precallReview=off + a name, straight in. */
export function applyAfterStart(app, options) {
  if (document.body.dataset.screen === "join") { onJoinView(app, options); return; }
  const watch = new MutationObserver(() => {
    if (document.body.dataset.screen === undefined) return;
    watch.disconnect();
    if (document.body.dataset.screen === "join") onJoinView(app, options);
  });
  watch.observe(document.body, { attributes: true, attributeFilter: ["data-screen"] });
}

function onJoinView(app, options) {
  if (app.state.phase !== "join") return;
  const name = $("#display-name");
  if (options.displayName) name.value = options.displayName;
  if (!options.precallReview && name.value.trim()) {
    $("#view-join").dataset.skipped = "";
    $("#join-form").requestSubmit();
  }
}
