"""What one subscriber's copy of a packet costs the forwarding path, C copies against Python ones.

    python bench/copy_cost.py [--copies 64] [--packets 3000] [--rounds 3] [--out bench/results/copy_cost.json]

One process, no server: `--copies` copies of one video publication (media/forward/copy.py), each
with its own real libsrtp context and its own UDP socket pair on loopback, are fanned out
`--packets` 1,100-byte packets, once through the C module's `fan` and `Copy` (_fanout.c) and once
through the Python `Copy` (which sends through the same C `Route.send` where the module was
built), alternating for `--rounds` rounds. Reported per copy: user and system CPU (getrusage;
system time is mostly `sendto`) and wall time; the receiving sockets are drained between bursts
and what they got is counted (every copy must arrive).
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiortc.rtcdtlstransport import State  # noqa: E402
from pylibsrtp import Policy, Session  # noqa: E402

from media import aiortc_compat as compat  # noqa: E402
from media.forward import copy as copies  # noqa: E402

KEY = bytes(range(30))
BURST = 20   # packets between drains of the receiving sockets


class _Transport:
    """What the send path reads of uvloop's datagram transport: its socket (and sendto)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sock.sendto(data, addr)


def _subscriber(c_copy: bool) -> tuple[Any, socket.socket, socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pair = SimpleNamespace(protocol=SimpleNamespace(transport=_Transport(sock)), remote_addr=receiver.getsockname())
    dtls = SimpleNamespace(_state=State.CONNECTED, _tx_srtp=Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND)),
                           transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})))
    sender = SimpleNamespace()
    if c_copy:
        copy = compat.CCopy(False, 0x1234, 0, 0, lambda p: True, compat.report_slots(sender))
    else:
        copy = copies.Copy(False, 0x1234, 0, 0, lambda p: True, sender)
    copies.connect(copy, dtls)
    copy.pt, copy.mid_element, copy.abs_id, copy.ready = 96, copies.extension_element(4, b"3"), 2, True
    return copy, receiver, sock


def _drain(receivers: list[socket.socket]) -> int:
    got = 0
    for r in receivers:
        try:
            while True:
                r.recv(2048)
                got += 1
        except BlockingIOError:
            pass
    return got


def measure(c_copy: bool, n: int, packets: int) -> dict[str, Any]:
    subs = [_subscriber(c_copy) for _ in range(n)]
    group = tuple(s[0] for s in subs)
    receivers = [s[1] for s in subs]
    fan = compat.c_fan if c_copy else copies.fan
    payload = b"\x90" + bytes(1099)
    received = 0
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i in range(packets):
        fan(group, 0, n, payload, i & 0xFFFF, i * 3000, int(i % 10 == 9), copies.abs_send_time(time.time()), -1, time.time())
        if i % BURST == BURST - 1:
            received += _drain(receivers)
    received += _drain(receivers)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _, r, s in subs:
        r.close()
        s.close()
    copies_sent = n * packets
    return {"path": "c" if c_copy else "python", "copies": copies_sent, "received": received,
            "user_us_per_copy": round((r1.ru_utime - r0.ru_utime) / copies_sent * 1e6, 3),
            "system_us_per_copy": round((r1.ru_stime - r0.ru_stime) / copies_sent * 1e6, 3),
            "wall_us_per_copy": round((t1 - t0) / copies_sent * 1e6, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=64)
    ap.add_argument("--packets", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="bench/results/copy_cost.json")
    args = ap.parse_args()
    if compat.CCopy is None:
        sys.exit("the C module was not built (or ANTECHAMBER_SEND_PATH=python): nothing to compare")
    runs = []
    for _ in range(args.rounds):
        for c_copy in (False, True):
            runs.append(measure(c_copy, args.copies, args.packets))
            print(json.dumps(runs[-1]))
    summary = {path: {k: [r[k] for r in runs if r["path"] == path] for k in ("user_us_per_copy", "system_us_per_copy", "wall_us_per_copy")}
               for path in ("python", "c")}
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "copies": args.copies, "packets": args.packets,
              "payload_bytes": 1100, "runs": runs, "summary": summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
