"""Live meetings: this node's signaling hub and SFU, the RoomDirectory and LiveMeetings adapters
between them and the domain, recording over the websocket. The one server package that imports
signaling's live and transport layers."""
