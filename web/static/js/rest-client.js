// REST client for the dashboard (native API, OpenVidu Meet shape, at /api/v1).

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && (body.code || body.error);
    this.details = body && body.details;
  }
}

export class ApiClient {
  constructor(key, base = "/api/v1") {
    this.key = key;
    this.base = base;
  }

  async request(method, path, body) {
    const headers = { "X-API-KEY": this.key, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
    let data = null;
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = { message: text.slice(0, 200) }; }
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  listRooms(nextPageToken = null) {
    const q = new URLSearchParams({ maxItems: "100", sortField: "creationDate", sortOrder: "desc" });
    if (nextPageToken) q.set("nextPageToken", nextPageToken);
    return this.request("GET", `/rooms?${q}`);
  }

  createRoom(body) {
    return this.request("POST", "/rooms", body);
  }

  setLocked(roomId, isLocked) {
    return this.request("PUT", `/rooms/${encodeURIComponent(roomId)}/lock`, { isLocked });
  }

  deleteRoom(roomId) {
    const q = new URLSearchParams({ withMeeting: "force", withRecordings: "close" });
    return this.request("DELETE", `/rooms/${encodeURIComponent(roomId)}?${q}`);
  }

  listRecordings(roomId) {
    const q = new URLSearchParams({ roomId, maxItems: "100" });
    return this.request("GET", `/recordings?${q}`);
  }

  deleteRecording(recordingId) {
    return this.request("DELETE", `/recordings/${encodeURIComponent(recordingId)}`);
  }

  /** An expiring signed link that plays or downloads without the API key. */
  async recordingUrl(recordingId) {
    const data = await this.request("GET", `/recordings/${encodeURIComponent(recordingId)}/url`);
    const url = data && (data.url || data.accessLink || data.recordingUrl);
    if (!url) throw new Error("the server returned no link");
    return url;
  }
}
