"""Fixtures shared by the SFU integration tests (real aiortc peers over loopback)."""

from __future__ import annotations

import pytest

from media.ports import MediaConfig
from media.sfu import MediaService
from tests.helpers.media_peers import PeerClient


@pytest.fixture
async def sfu():
    """The SFU, with loopback host candidates."""
    service = MediaService(MediaConfig(loopback_candidates=True))
    yield service
    await service.close()


@pytest.fixture
async def clients():
    """Make aiortc test clients by name; all are closed at the end of the test."""
    made: list[PeerClient] = []

    def make(name: str, **kw) -> PeerClient:
        c = PeerClient(name, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()
