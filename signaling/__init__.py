"""Signaling: the websocket protocol, the live rooms of one node and their flows (docs/architecture.md "Layers").

Imports go downward only (checked by import-linter, pyproject.toml):

- ``transport/``: the websocket connection actor (one Connection per socket), ``make_handler``, ``Limits``
- ``media_bridge``: the SFU behind ``ports.MediaHooks`` (over ``media.ports``)
- ``live/``: the hub (registry of rooms, dispatch, job queue), the rooms and their flows, participants,
  resume, the built-in handlers, events; never a socket
- ``rules/`` (pure): admission, permissions, the knock state machine, cooldowns;
  ``wire/`` (pure): message specs and parsing, codecs, text checks, the message registry
- ``ports`` (RoomInfo, Identity, RoomDirectory, MediaHooks), then ``errors``

``client`` is a standalone asyncio client of the protocol (tests, benchmarks, bots).
"""
