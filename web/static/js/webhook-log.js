// The dashboard's webhook delivery log (docs/webhooks.md "The delivery log"): the latest
// deliveries with their status, response code, latency and error, a status filter, and a
// replay button. Reads GET /api/v1/webhooks/deliveries through the dashboard's ApiClient.
import { h, $, toast } from "./dom.js";

const STATUS_TEXT = { pending: "Pending", delivered: "Delivered", failed: "Failed" };

function when(ms) {
  return new Date(ms).toLocaleString();
}

export function createWebhookLog(getApi, describe) {
  const list = $("#webhook-list");
  const status = $("#webhook-status");

  function row(d) {
    const replay = h("button", { type: "button", class: "btn-sm", "data-testid": "webhook-replay",
      "aria-label": `Send ${d.type} again` }, "Replay");
    replay.addEventListener("click", async () => {
      try {
        await getApi().request("POST", `/webhooks/deliveries/${encodeURIComponent(d.id)}/replay`);
        toast("Sent again.", { timeout: 2500 });
        refresh();
      } catch (err) { toast(describe(err), { kind: "error" }); }
    });
    const outcome = [d.responseCode ? `HTTP ${d.responseCode}` : null, d.latencyMs != null ? `${d.latencyMs} ms` : null,
      d.error].filter(Boolean).join(" · ");
    return h("li", { class: "room-row", "data-testid": "webhook-delivery", dataset: { status: d.status } },
      h("div", { class: "grow" },
        h("strong", {}, d.type), " ",
        h("span", { class: `badge badge-${d.status}` }, STATUS_TEXT[d.status] || d.status),
        h("div", { class: "muted" }, `room ${d.roomId} · #${d.sequence} · ${d.format} · ${when(d.createdAt)}`),
        h("div", { class: "muted" }, `${d.attemptCount} attempt(s)${outcome ? " · " + outcome : ""}`)),
      replay);
  }

  async function refresh() {
    const api = getApi();
    if (!api) return;
    const q = new URLSearchParams({ maxItems: "20" });
    const wanted = $("#webhook-filter").value;
    if (wanted) q.set("status", wanted);
    try {
      const page = await api.request("GET", `/webhooks/deliveries?${q}`);
      list.replaceChildren(...(page.deliveries || []).map(row));
      status.hidden = list.children.length > 0;
      status.textContent = "No webhook deliveries yet.";
    } catch (err) {
      status.hidden = false;
      status.textContent = describe(err);
    }
  }

  function start() {
    // across both columns of the dashboard's grid (set here: the page's CSP allows no inline styles)
    $("[data-testid=webhook-log]").style.gridColumn = "1 / -1";
    $("#webhook-filter").style.width = "auto";
    $("#webhook-refresh").addEventListener("click", refresh);
    $("#webhook-filter").addEventListener("change", refresh);
  }

  return { refresh, start };
}
