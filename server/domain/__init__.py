"""The rules of rooms, members, recordings and access, on the store and the LiveMeetings port; no HTTP, no hub."""
