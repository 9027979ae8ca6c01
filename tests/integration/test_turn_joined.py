"""`joined` carries each participant's own short-lived TURN credentials (coturn use-auth-secret),
never the shared secret; `iceTransportPolicy` reaches the browser when the operator forces relay."""

from __future__ import annotations

import json
import time

from server.domain.access.turn import verify
from tests.helpers.signaling import clients, host_key, make_room, serve

SECRET = "shared-turn-secret-0123456789abcdef"
URLS = ("turn:turn.invalid:3478?transport=udp", "turn:turn.invalid:3478?transport=tcp")


async def test_each_joined_has_its_own_turn_entry_and_never_the_secret(settings_factory, auth):
    settings = settings_factory(ice_servers=("stun:stun.invalid:3478", "turn:sfu:long-lived@turn.invalid:3478"),
                                turn_secret=SECRET, turn_urls=URLS, turn_ttl_seconds=3600,
                                ice_transport_policy="relay")
    async with serve(settings) as client:
        room = await make_room(client, auth)
        async with clients(client) as cs:
            host = await cs.open()
            guest = await cs.open()
            before = time.time()
            joined = [await host.join(room["roomId"], "Hana", host_key(room)),
                      await guest.join(room["roomId"], "Gus")]
            for j in joined:
                assert j["type"] == "joined"
                stun, turn = j["iceServers"]
                assert stun == {"urls": ["stun:stun.invalid:3478"]}  # the SFU's long-lived TURN stays there
                assert turn["urls"] == list(URLS)
                expiry, pid = turn["username"].split(":", 1)
                assert pid == j["participantId"]
                assert before + 3600 - 1 <= int(expiry) <= time.time() + 3600
                assert verify(SECRET, turn["username"], turn["credential"], now=time.time())
                assert j["iceTransportPolicy"] == "relay"
                text = json.dumps(j)
                assert SECRET not in text and "long-lived" not in text
            assert joined[0]["iceServers"][1]["username"] != joined[1]["iceServers"][1]["username"]

            # a resume is a new joined: the same participant, fresh credentials for it
            token, pid = guest.resume_token, joined[1]["participantId"]
            await guest.abort()
            again = await (await cs.open()).join(room["roomId"], "Gus", resume_token=token)
            assert again["resumed"] is True and again["participantId"] == pid
            turn = again["iceServers"][1]
            assert turn["username"].endswith(":" + pid)
            assert verify(SECRET, turn["username"], turn["credential"], now=time.time())


async def test_no_turn_configured_means_no_policy_and_no_turn_entry(settings_factory, auth):
    async with serve(settings_factory(ice_servers=("stun:stun.invalid:3478",))) as client:
        room = await make_room(client, auth)
        async with clients(client) as cs:
            joined = await (await cs.open()).join(room["roomId"], "Gus")
            assert joined["iceServers"] == [{"urls": ["stun:stun.invalid:3478"]}]
            assert "iceTransportPolicy" not in joined
