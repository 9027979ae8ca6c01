"""Each hub owns its message registry: registrations on one hub never reach another."""

from __future__ import annotations

import pytest

from signaling.errors import UnknownType
from signaling.live.handlers import BUILTINS
from signaling.live.hub import Hub
from signaling.wire.protocol import SPECS, Field, parse


async def _on_wave(hub, session, req):
    return {"waved": True}


def test_a_message_registered_on_one_hub_is_unknown_to_another():
    with_wave, without = Hub(None), Hub(None)
    with_wave.messages.register("wave", _on_wave, permission="canWriteChat",
                                fields={"to": Field(str, min_len=1, max_len=10)})

    assert "wave" in with_wave.messages.types()
    assert with_wave.messages.get("wave").permission == "canWriteChat"
    assert parse({"type": "wave", "to": "bob"}, with_wave.messages.spec)["to"] == "bob"

    assert "wave" not in without.messages.types() and without.messages.get("wave") is None
    with pytest.raises(UnknownType):
        parse({"type": "wave", "to": "bob"}, without.messages.spec)
    with pytest.raises(UnknownType):
        parse({"type": "wave", "to": "bob"})   # the built-in specs did not change either
    assert "wave" not in BUILTINS and "wave" not in SPECS


def test_every_hub_starts_with_the_built_in_and_media_messages():
    hub = Hub(None)
    assert set(BUILTINS) <= hub.messages.types()
    assert {"publish", "subscribe_answer", "ice"} <= hub.messages.types()
    assert set(SPECS) <= hub.messages.types()
    assert hub.messages.spec("publish")["sdp"].max_bytes == 32 * 1024   # docs/protocol.md "Limits"
    assert "start_recording" not in hub.messages.types()   # added by server.recording_signaling only


def test_the_built_in_tables_are_read_only():
    with pytest.raises(TypeError):
        BUILTINS["wave"] = BUILTINS["chat"]  # type: ignore[index]
    with pytest.raises(TypeError):
        SPECS["chat"]["extra"] = Field(str)  # type: ignore[index]
