"""Crash recovery: recordings a crash left starting/active/ending are settled at the next start.

Complete if the file was finalized, failed otherwise; either way the file written so far stays
downloadable. With a shared store (Redis) only this node's files are judged (docs/architecture.md,
"Seams for the cluster").
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Optional

import structlog

from media.recording import recover

from ...store.base import RecordingQuery
from ...store.records import Recording
from .service import LIVE_STATUSES, RecordingService

log = structlog.get_logger("antechamber.recordings")


async def recover_interrupted(svc: RecordingService, *, single_node: bool) -> list[Recording]:
    """Settle every interrupted recording this node may judge; returns them as settled."""
    fixed: list[Recording] = []
    for status in LIVE_STATUSES:
        token = None
        while True:
            page = await svc.store.list_recordings(RecordingQuery(status=status, limit=100, token=token))
            for rec in page.items:
                if svc.is_running(rec.recording_id):
                    continue
                path = svc.path_of(rec)
                if not single_node and (path is None or not path.exists()):
                    continue  # another node's recording (shared store): not ours to judge
                fixed.append(await _recover_one(svc, rec, path))
            token = page.next_token
            if token is None:
                break
    if fixed:
        log.info("interrupted recordings recovered", count=len(fixed))
    return fixed


async def _recover_one(svc: RecordingService, rec: Recording, path: Optional[Path]) -> Recording:
    loop = asyncio.get_running_loop()
    try:
        info = None if path is None else await loop.run_in_executor(None, recover, path, "matroska")
    except Exception as exc:  # noqa: BLE001 - an unreadable file: keep it, mark failed
        info, err = None, f"unreadable after crash: {type(exc).__name__}"
    else:
        err = None if info and info.finalized else "the server stopped while recording"
    old = rec.status
    rec.status = "complete" if info is not None and info.finalized else "failed"
    rec.error = None if rec.status == "complete" else (err or "the server stopped before anything was written")
    if info is not None and path is not None:
        rec.size, rec.duration = info.size, round(info.duration, 3)
        rec.end_date = int(path.stat().st_mtime * 1000)
        if not rec.tracks:
            rec.tracks = info.streams
    else:
        rec.end_date = rec.start_date
    await svc.store.update_recording(rec)
    log.info("recording recovered", recording_id=rec.recording_id, change=f"{old} -> {rec.status}")
    await svc.status_stored(rec)
    return rec


async def settle_lost(svc: RecordingService, recording_id: str,
                      reason: str = "the node recording it stopped") -> Optional[Recording]:
    """A recording whose node stopped while recording (its meeting was taken over by this node):
    ``failed``, its file left where it is (downloadable while that node or a shared volume has it).
    None if it had ended already or runs here."""
    rec = await svc.store.get_recording(recording_id)
    if rec is None or rec.status not in LIVE_STATUSES or svc.is_running(recording_id):
        return None
    old, rec.status, rec.error = rec.status, "failed", reason
    rec.end_date = rec.end_date or int(time.time() * 1000)
    await svc.store.update_recording(rec)
    log.info("recording lost with its node", recording_id=rec.recording_id, change=f"{old} -> failed")
    await svc.status_stored(rec)
    return rec
