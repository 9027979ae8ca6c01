"""Composed MP4s of finished recordings: the background job (docs/recording.md "Composed MP4",
docs/architecture.md "Recording life cycle").

* A recording that completes is marked ``composition: pending``; so is an older one on request
  (``request``: REST ``POST /recordings/{id}/composition``).
* One composition at a time per node, rendered by ``python -m media.recording.compose`` in a
  child process, ``nice``d and paced (at most SPEED seconds of recording per second), so the
  meeting's media on this node is not slowed (bench/compose.py measures it). Progress lines of the
  child go to the store (``composition_progress``) at most every PROGRESS_SECONDS.
* Restart-safe: the state lives in the Store; at start and every SCAN_SECONDS the node looks for
  pending compositions it may render and renders them from the beginning (the MP4 is written aside
  and renamed when whole, so a half-written one is never served).
* On a cluster only the recording's node renders it (``Recording.node_id``, the node holding the
  file); a shared store sees the state from every node.
* ``listeners`` are awaited with (event, recording) once it is ``recording.composition_ready`` or
  ``recording.composition_failed`` (webhooks may announce them).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable, Optional

import structlog

from ...store.base import RecordingQuery, every_recording
from ...store.records import Recording
from ..errors import Conflict, NotFound
from ..tasks import stop_task
from .service import RecordingService

log = structlog.get_logger("antechamber.recordings")

SPEED = 4.0               # at most this many seconds of recording per second of wall time
NICE = 10                 # the child's niceness: live media always goes first
SCAN_SECONDS = 15.0
PROGRESS_SECONDS = 2.0
READY, PENDING, FAILED = "ready", "pending", "failed"

Listener = Callable[[str, Recording], Awaitable[None]]


class Compositions:
    def __init__(self, svc: RecordingService, *, single_node: bool = True, speed: float = SPEED,
                 nice: int = NICE, automatic: bool = True) -> None:
        self.svc = svc
        self.single_node = single_node
        self.speed, self.nice = speed, nice
        self.automatic = automatic
        self.listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._task: Optional[asyncio.Task] = None
        self._child: Optional[asyncio.subprocess.Process] = None
        self.current: Optional[str] = None
        svc.status_listeners.append(self._on_status)

    # --- state -----------------------------------------------------------------------------

    async def _on_status(self, rec: Recording) -> None:
        """A recording just completed: its composition is due."""
        if self.automatic and rec.status == "complete" and rec.composition is None and self.svc.file_of(rec):
            rec.composition, rec.composition_progress, rec.composition_error = PENDING, 0.0, None
            await self.svc.store.update_recording(rec)
            self._wake.set()

    async def request(self, recording_id: str) -> Recording:
        """Compose (again) a finished recording: ``pending`` now, rendered in the background. 409 while
        it is being written, 404 without a file; a ready one is left as it is."""
        rec = await self.svc.get(recording_id)
        if rec.status not in ("complete", "failed"):
            raise Conflict(f"the recording is {rec.status}; it can be composed once it has ended",
                           code="recording_active")
        if rec.composition == READY and self.ready_file(rec) is not None:
            return rec
        if self.svc.file_of(rec) is None and (self.single_node or rec.node_id in ("", self.svc.node_id)):
            raise NotFound("the recording has no file", code="recording_file_missing")
        if rec.composition != PENDING:
            await self._update(rec.recording_id, composition=PENDING, composition_progress=0.0,
                               composition_error=None)
            rec = await self.svc.get(recording_id)
        self._wake.set()
        return rec

    def ready_file(self, rec: Recording) -> Optional[Path]:
        path = self.svc.composed_path(rec)
        return path if rec.composition == READY and path is not None and path.is_file() else None

    def mine(self, rec: Recording) -> bool:
        """Whether this node renders it: the node that holds its file."""
        if self.svc.file_of(rec) is None:
            return False
        return self.single_node or rec.node_id in ("", self.svc.node_id)

    async def _update(self, recording_id: str, **changes) -> Optional[Recording]:
        rec = await self.svc.store.get_recording(recording_id)   # fresh: other changes are kept
        if rec is None:
            return None
        for k, v in changes.items():
            setattr(rec, k, v)
        await self.svc.store.update_recording(rec)
        return rec

    # --- the job -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._child is not None and self._child.returncode is None:
            self._child.kill()
        await stop_task(self._task)       # a Redis command can absorb one cancellation

    async def _run(self) -> None:
        while True:
            try:
                due = [r for r in await every_recording(self.svc.store, RecordingQuery(status="complete"))
                       if r.composition == PENDING and self.mine(r)]
                due += [r for r in await every_recording(self.svc.store, RecordingQuery(status="failed"))
                        if r.composition == PENDING and self.mine(r)]
                for rec in due:
                    await self.render(rec.recording_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the store away for a moment: try again later
                log.warning("composition scan failed", exc_info=True)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), SCAN_SECONDS)
            except asyncio.TimeoutError:
                pass

    async def render(self, recording_id: str) -> Optional[Recording]:
        """Render one pending composition now (in the child process); the recording as it ends."""
        rec = await self.svc.store.get_recording(recording_id)
        src = self.svc.file_of(rec) if rec is not None else None
        dst = self.svc.composed_path(rec) if rec is not None else None
        if rec is None or rec.composition != PENDING or src is None or dst is None:
            return rec
        self.current = recording_id
        started = time.monotonic()
        log.info("composition started", recording_id=recording_id)
        try:
            ok, detail = await self._child_run(recording_id, src, dst)
        finally:
            self.current = None
        if ok:
            rec = await self._update(recording_id, composition=READY, composition_progress=1.0,
                                     composition_error=None)
            log.info("composition ready", recording_id=recording_id, seconds=round(time.monotonic() - started, 1),
                     **detail)
        else:
            rec = await self._update(recording_id, composition=FAILED, composition_error=detail.get("error"))
            log.warning("composition failed", recording_id=recording_id, error=detail.get("error"))
        if rec is None:      # deleted meanwhile
            dst.unlink(missing_ok=True)
            return None
        await self._tell("recording.composition_ready" if ok else "recording.composition_failed", rec)
        return rec

    async def _child_run(self, recording_id: str, src: Path, dst: Path) -> tuple[bool, dict]:
        args = [sys.executable, "-m", "media.recording.compose", str(src), str(dst),
                "--speed", str(self.speed), "--nice", str(self.nice)]
        self._child = child = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL)
        last: dict = {}
        told = 0.0
        try:
            assert child.stdout is not None
            async for raw in child.stdout:
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                last = line if isinstance(line, dict) else last
                if "progress" in last and time.monotonic() - told >= PROGRESS_SECONDS:
                    told = time.monotonic()
                    await self._update(recording_id, composition_progress=float(last["progress"]))
            code = await child.wait()
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
            self._child = None
        if code == 0 and last.get("done"):
            return True, {k: last[k] for k in ("duration", "size", "encoder") if k in last}
        return False, {"error": str(last.get("error") or f"the composer stopped (exit {code})")[:300]}

    async def _tell(self, event: str, rec: Recording) -> None:
        for listener in list(self.listeners):
            try:
                await listener(event, rec)
            except Exception:  # noqa: BLE001 - a listener never breaks the job
                log.warning("composition listener failed", recording_id=rec.recording_id, exc_info=True)
