"""What the REMB estimator costs per publisher video packet: aiortc's, aiortc's with the two quicker
parts the lean receive path gives it without the C module, and the C one (_remb.c).

    python bench/remb_cost.py [--frames 3000] [--rounds 5] [--out bench/results/remb_cost.json]

One process, no server: a 30 fps stream of 4-packet frames of 1,100 bytes through a 3 Mbit/s
link (tests/unit/test_media_remb_c.py's generator) fed to each estimator in turn, `--rounds` times
alternating; reported per packet: process CPU time (best and median of the rounds), and whether
every estimator gave the same REMBs (they must: the C one is checked against aiortc's there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiortc.rate import RemoteBitrateEstimator  # noqa: E402

from media.aiortc_compat.lean_receive import CompiledEstimator, QuickRateCounter, quick_min_frame_period  # noqa: E402
from tests.unit.test_media_remb_c import packets  # noqa: E402


def quick() -> Any:
    e = RemoteBitrateEstimator()
    quick_min_frame_period(e.estimator)
    e.incoming_bitrate = QuickRateCounter(e.incoming_bitrate)
    return e


def run(make: Callable[[], Any], stream: list[tuple], keywords: bool) -> tuple[float, list]:
    e, out = make(), []
    start = time.process_time()
    if keywords:    # aiortc's own receive path (a recorder attached) calls it so
        for a, ast, size, ssrc in stream:
            out.append(e.add(arrival_time_ms=a, abs_send_time=ast, payload_size=size, ssrc=ssrc))
    else:           # the lean receive path
        for a, ast, size, ssrc in stream:
            out.append(e.add(a, ast, size, ssrc))
    return (time.process_time() - start) / len(stream) * 1e6, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="bench/results/remb_cost.json")
    args = ap.parse_args()
    stream = packets([(33, 4, 1100, 0, 0)] * args.frames, 3000, 1.0)
    kinds: dict[str, tuple[Callable[[], Any], bool]] = {"aiortc": (RemoteBitrateEstimator, False),
                                                        "aiortc_quick": (quick, False)}
    if CompiledEstimator is not None:
        kinds |= {"c": (CompiledEstimator, False), "c_keywords": (CompiledEstimator, True)}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    results = {}
    for _ in range(args.rounds):
        for name, (make, keywords) in kinds.items():
            us, results[name] = run(make, stream, keywords)
            times[name].append(us)
    summary = {name: {"us_per_packet_best": round(min(t), 3), "us_per_packet_median": round(statistics.median(t), 3)}
               for name, t in times.items()}
    report = {"packets": len(stream), "rounds": args.rounds, "summary": summary, "runs_us": times,
              "same_rembs": all(r == results["aiortc"] for r in results.values()),
              "rembs": sum(r is not None for r in results["aiortc"])}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("summary", "same_rembs", "rembs")}, indent=2))


if __name__ == "__main__":
    main()
