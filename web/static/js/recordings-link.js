// The room page's ways to the room's Recording view (/<room>/recordings): a link in the join
// view for a host link, and one in the meeting's top bar for participants whose permissions
// include canRetrieveRecordings. The view is opened with the page's own host or member key
// (a new tab, no referrer); it asks the recordings API with it, which decides what it shows.

function recordingsHref(location) {
  const params = new URLSearchParams(location.search);
  const key = params.get("roomKey") || params.get("memberKey");
  const slug = location.pathname.replace(/^\/+/, "").split("/")[0] || "";
  return key && slug ? `/${slug}/recordings?${new URLSearchParams({ roomKey: key })}` : null;
}

/** Point both links at the Recording view; the join view's shows for a host link. */
export function wireRecordingsLinks(location = window.location) {
  const href = recordingsHref(location);
  for (const id of ["recordings-link", "join-recordings"]) {
    const el = document.getElementById(id);
    if (el && href) el.href = href;
  }
  const line = document.getElementById("join-recordings-line");
  if (line) line.hidden = !(href && new URLSearchParams(location.search).get("roomKey"));
}

/** In the meeting: the top bar's link shows when `perms` allow retrieving recordings. */
export function showRecordingsLink(perms) {
  const el = document.getElementById("recordings-link");
  if (el) el.hidden = !(perms && perms.canRetrieveRecordings && el.getAttribute("href"));
}

if (typeof document !== "undefined") wireRecordingsLinks();
