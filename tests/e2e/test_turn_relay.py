"""Video between two Chromium pages through a real coturn, with iceTransportPolicy "relay".

coturn (Debian's turnserver) runs on loopback in the use-auth-secret scheme; the server runs
as a real process with --turn-secret / --turn-url / --ice-transport-policy relay, so each
browser only has the relay candidate its short-lived credentials allocate on coturn.
"""

from __future__ import annotations

import re
import secrets
import time

import pytest

from tests.helpers.coturn import Coturn, require_coturn
from tests.helpers.server_process import ServerProcess

from .conftest import Server
from .flows import meeting_of_two

pytestmark = pytest.mark.e2e

MEDIA_TIMEOUT_MS = 60_000
SECRET = "coturn-shared-" + secrets.token_hex(16)

# The selected candidate pair of a connection: its local and remote candidate types.
_SELECTED_PAIR = """async (which) => {
  const pc = window.antechamber.media && window.antechamber.media[which];
  if (!pc) return null;
  const stats = await pc.getStats();
  let pairId = null;
  stats.forEach((r) => { if (r.type === "transport" && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId; });
  const pair = pairId && stats.get(pairId);
  if (!pair || pair.state !== "succeeded") return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return {local: local.candidateType, remote: remote.candidateType, address: local.address,
          relayProtocol: local.relayProtocol || null, url: local.url || null,
          bytesReceived: pair.bytesReceived, bytesSent: pair.bytesSent};
}"""

_FRAMES = """async () => {
  const media = window.antechamber.media;
  if (!media || !media.sub) return 0;
  let n = 0;
  (await media.sub.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0;
  });
  return n;
}"""


@pytest.fixture(scope="module")
def coturn():
    require_coturn()
    turn = Coturn(SECRET).start()
    yield turn
    turn.cleanup()


@pytest.fixture(scope="module")
def server(coturn, tmp_path_factory):
    """Overrides the e2e server: this one hands out TURN credentials and forces relay."""
    data_dir = tmp_path_factory.mktemp("turn") / "data"
    api_key = "e2e-" + secrets.token_urlsafe(24)
    proc = ServerProcess(data_dir, api_key=api_key, extra_args=[
        "--turn-secret", SECRET, "--turn-url", coturn.url, "--ice-transport-policy", "relay",
        "--log-level", "debug"], env={"PYTHONUNBUFFERED": "1"}).start()
    yield Server(proc.url, api_key, proc.proc, proc.log_path)
    proc.stop()


def _until(page, script: str, arg=None, ok=bool, what: str = "condition"):
    """Evaluate ``script`` (it may be async: evaluate awaits it) until ``ok(result)``.

    Not page.wait_for_function: it takes the Promise an async predicate returns for a truthy
    value and returns at once."""
    deadline = time.monotonic() + MEDIA_TIMEOUT_MS / 1000
    while True:
        result = page.evaluate(script, arg)
        if ok(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last {result!r}")
        page.wait_for_timeout(250)  # polling interval of a condition


def _frames_grow(page, above: int) -> int:
    return _until(page, _FRAMES, ok=lambda n: n > above, what=f"more than {above} frames decoded")


def test_video_flows_through_coturn_with_relay_only(server, coturn, new_page):
    frames: list[str] = []

    def capture(page):
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
        return page

    room, host, guest = meeting_of_two(server, lambda url: capture(new_page(url)), "TURN relay", locked=False)

    for page in (host, guest):
        assert page.evaluate("window.antechamber.media.config.iceTransportPolicy") == "relay"
        _frames_grow(page, 30)
        for which in ("pub", "sub"):
            pair = _until(page, _SELECTED_PAIR, which, ok=lambda p: p is not None, what=f"{which} pair")
            assert pair["local"] == "relay", pair  # the browser's end is an allocation on coturn
            assert pair["address"] == "127.0.0.1" and pair["relayProtocol"] == "udp", pair
            assert pair["bytesReceived"] > 0 and pair["bytesSent"] > 0, pair
        # and it still grows: media keeps flowing through the relay
        _frames_grow(page, page.evaluate(_FRAMES) + 10)
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=tile] video')].some((v) => v.videoWidth > 0)")

    # coturn accepted the short-lived usernames "<expiry>:<participantId>": allocations succeeded
    # under them, none was refused (a 401 with a user named means a credential coturn rejected)
    ids = [page.evaluate("window.antechamber.state.me.participantId") for page in (host, guest)]
    allocated = [re.compile(rf"user <(\d+):{re.escape(pid)}>: incoming packet ALLOCATE processed, success")
                 for pid in ids]
    deadline = time.monotonic() + 10
    while not all(a.search(coturn.output()) for a in allocated) and time.monotonic() < deadline:
        time.sleep(0.1)  # coturn's log is written by another process: polled
    log = coturn.output()
    for a in allocated:
        match = a.search(log)
        assert match, log[-3000:]
        assert 0 < int(match.group(1)) - time.time() <= 6 * 3600  # the default TTL
    assert not re.search(r"user <\d+:[^>]+>: .*error 401", log), log[-3000:]

    # the browsers were given credentials, never the shared secret; nor was it logged
    joined = [f for f in frames if '"joined"' in f]
    assert joined and all('"username"' in f and '"credential"' in f for f in joined)
    assert not any(SECRET in f for f in frames)
    server_log = server.log_tail(100_000)
    assert all(pid in server_log for pid in ids)  # the log is there (debug level), just not the secret
    assert SECRET not in server_log
