"""``antechamber recordings list|download`` (docs/cli.md).

A download goes to ``<file>.part`` and is renamed when whole. Interrupted (Ctrl-C, a dropped
connection), the next run of the same command resumes where it stopped with an HTTP ``Range``
request; ``If-Range`` carries the ETag the first answer had (kept in ``<file>.part.etag``), so a
file that changed on the server meanwhile is fetched again from the start rather than spliced.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from .rest import API, Client, OpsError, when

CHUNK = 64 * 1024
UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def add_parser(sub: argparse._SubParsersAction, connection: Callable[[argparse.ArgumentParser], None]) -> None:
    recs = sub.add_parser("recordings", help="list and download recordings from a running server")
    verbs = recs.add_subparsers(dest="verb", required=True)
    ls = verbs.add_parser("list", help="list recordings")
    ls.add_argument("--room", dest="room_id", help="only this room's recordings")
    ls.add_argument("--status", choices=["starting", "active", "ending", "complete", "failed", "aborted"])
    ls.add_argument("--limit", type=int, help="at most this many recordings")
    ls.add_argument("--json", action="store_true", help="print the server's JSON")
    ls.set_defaults(run=list_recordings)
    get = verbs.add_parser("download", help="download a recording (resumes an interrupted download)")
    get.add_argument("recording_id", metavar="RECORDING_ID")
    get.add_argument("-o", "--output", help="file to write (default: <RECORDING_ID>.<its extension>)")
    get.add_argument("--format", choices=["mkv", "webm", "mp4"], help="ask for this container (mp4: a remux)")
    get.add_argument("--limit-rate", dest="limit_rate", type=rate, help="at most this many bytes/s, e.g. 500k, 2M")
    get.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    get.add_argument("--quiet", action="store_true", help="no progress bar")
    get.set_defaults(run=download)
    for parser in (ls, get):
        connection(parser)


def rate(text: str) -> int:
    text = text.strip().lower().removesuffix("b")
    unit = text[-1:] if text[-1:] in UNITS else ""
    try:
        value = float(text[: len(text) - len(unit)]) * UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate such as 500k or 2M") from None
    if value < 1024:
        raise argparse.ArgumentTypeError("the rate must be at least 1k (bytes per second)")
    return int(value)


def list_recordings(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    recs = list(client.pages("/recordings", "recordings", {"roomId": args.room_id, "status": args.status},
                             args.limit))
    if args.json:
        print(json.dumps(recs, indent=2))
        return 0
    table = Table("recording id", "room", "status", "duration", "size", "started")
    for r in recs:
        table.add_row(r["recordingId"], r.get("roomName") or r.get("roomId", ""), r.get("status", ""),
                      f"{float(r.get('duration') or 0):.0f} s", _size(r.get("size")), when(r.get("startDate")))
    Console(soft_wrap=True).print(table)
    print(f"{len(recs)} recording(s)")
    return 0


def download(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    rec_path = "/recordings/" + urllib.parse.quote(args.recording_id, safe="")
    info = client.call("GET", rec_path)
    if info.get("status") not in ("complete", "failed", "aborted"):
        raise OpsError(f"recording {args.recording_id} is {info.get('status')}: it can be downloaded once it ends")
    ext = args.format or (Path(info.get("filename") or "x.mkv").suffix.lstrip(".") or "mkv")
    out = Path(args.output or f"{args.recording_id}.{ext}")
    if out.exists() and not args.force:
        raise OpsError(f"{out} exists (use --force to overwrite)")
    part, etag_file = out.with_name(out.name + ".part"), out.with_name(out.name + ".part.etag")
    have = part.stat().st_size if part.exists() else 0
    etag = etag_file.read_text().strip() if have and etag_file.exists() else ""
    headers = {"Accept": "*/*"}
    if have and etag:
        headers.update({"Range": f"bytes={have}-", "If-Range": etag})
    else:
        have = 0
    query = {"format": args.format} if args.format else None
    try:
        resp = client.open("GET", API + rec_path + "/media", query=query, headers=headers)
    except OpsError as exc:
        if have and str(exc).startswith("416"):   # the part is whole already
            resp = None
        else:
            raise
    if resp is None:
        part.replace(out)
        etag_file.unlink(missing_ok=True)
        print(f"{out}: {have} bytes")
        return 0
    with resp:
        if resp.status != 206:
            have = 0          # a whole answer: the file changed, or the server ignored the range
        total = have + int(resp.headers.get("Content-Length") or 0) or None
        if resp.headers.get("ETag"):
            etag_file.write_text(resp.headers["ETag"])
        if have:
            print(f"resuming {out} at byte {have}")
        _copy(resp, part, have, total, args)
    size = part.stat().st_size
    if total is not None and size != total:
        raise OpsError(f"the download stopped at {size} of {total} bytes: run the command again to resume")
    part.replace(out)
    etag_file.unlink(missing_ok=True)
    print(f"{out}: {size} bytes")
    return 0


def _copy(resp, part: Path, have: int, total: int | None, args: argparse.Namespace) -> None:
    started, sent = time.monotonic(), 0
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with open(part, "r+b" if have else "wb") as fh, \
            Progress(*columns, disable=args.quiet, console=Console(stderr=True)) as bar:
        fh.seek(have)
        fh.truncate()
        task = bar.add_task(part.name.removesuffix(".part"), total=total, completed=have)
        while chunk := resp.read(CHUNK):
            fh.write(chunk)
            fh.flush()
            sent += len(chunk)
            bar.update(task, advance=len(chunk))
            if args.limit_rate:
                ahead = sent / args.limit_rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)


def _size(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""

