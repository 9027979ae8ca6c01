// Share links from the meeting (server/http/share_links.py): participants with
// `canShareAccessLinks` copy the room's guest (speaker) link, hosts also the viewer link, from
// the people panel's "Invite" section. The server decides from the link's key (sent in a POST
// body) which links this person may have; the host link is never among them.
import { $, copyText, toast } from "./dom.js";
import { t } from "./i18n.js";

let links = {};

async function fetchLinks(roomSlug, key) {
  try {
    const resp = await fetch(`/${encodeURIComponent(roomSlug)}/links`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(key ? { key } : {}), cache: "no-store",
    });
    return resp.ok ? await resp.json() : {};
  } catch {
    return {};
  }
}

/** Ask again which links we may share (on joining and when our permissions change). */
export async function refreshShareLinks({ roomSlug, key }, permissions) {
  links = permissions.canShareAccessLinks || permissions.canKickParticipants ? await fetchLinks(roomSlug, key) : {};
  $("#copy-speaker-link").hidden = !links.speaker;
  $("#copy-viewer-link").hidden = !links.viewer;
  $("#share-links").hidden = !links.speaker && !links.viewer;
}

/** Attach the copy buttons (once, at start). */
export function bindShareLinks() {
  const copy = async (kind, what) => {
    if (!links[kind]) return;
    const ok = await copyText(links[kind]);
    toast(ok ? t("side.copied", { what }) : t("side.copyFailed", { link: links[kind] }), { timeout: ok ? 2500 : 10000 });
  };
  $("#copy-speaker-link").addEventListener("click", () => copy("speaker", t("side.guestLink")));
  $("#copy-viewer-link").addEventListener("click", () => copy("viewer", t("side.viewerLink")));
}
