// The room page's link: the room name from the path, the key (and so the role) from the query.

// The catalog keys (i18n.js) of the roles' names.
export const ROLE_NAMES = Object.freeze({ host: "role.host", viewer: "role.viewer", member: "role.member", guest: "role.guest" });

/** {roomSlug, key, linkRole} of a room page's location (`window.location`). */
export function readRoomLink(location) {
  const params = new URLSearchParams(location.search);
  const roomSlug = decodeURIComponent(location.pathname.replace(/^\/+/, "").split("/")[0] || "");
  const key = params.get("roomKey") || params.get("viewerKey") || params.get("memberKey") || null;
  const linkRole = params.get("roomKey") ? "host" : params.get("viewerKey") ? "viewer"
    : params.get("memberKey") ? "member" : "guest";
  return Object.freeze({ roomSlug, key, linkRole });
}
