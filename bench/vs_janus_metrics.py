"""What bench/vs_janus.py reads from the Antechamber server's /metrics: the loop-lag histogram (and the
lag over a window from two reads), garbage-collector pauses and the packets it did not forward."""

from __future__ import annotations


def lag_histogram(lines: list[str]) -> dict[float, float] | None:
    """antechamber_event_loop_lag_seconds buckets (le -> count), or None when the server has none."""
    out: dict[float, float] = {}
    for line in lines:
        if line.startswith("antechamber_event_loop_lag_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out or None


def gc_pauses(lines: list[str]) -> dict[str, float]:
    """Antechamber's garbage-collector pauses (antechamber_gc_pause_seconds): per generation, how many
    and how many longer than 10 ms (a pause holds the whole loop: the lag probe sees it)."""
    out: dict[str, float] = {}
    for line in lines:
        if line.startswith("antechamber_gc_pause_seconds_bucket{"):
            gen = line.split('generation="', 1)[1].split('"', 1)[0]
            le = line.split('le="', 1)[1].split('"', 1)[0]
            if le in ("0.01", "+Inf"):
                out[f"gen{gen}_{'within_10ms' if le == '0.01' else 'all'}"] = float(line.rsplit(" ", 1)[1])
    return out


def sfu_drops(lines: list[str]) -> dict[str, float]:
    """Antechamber's own count of packets it did not forward, by reason (antechamber_media_dropped_packets:
    keyframe_wait, no_transport, refused, backlog_full), or {} for Janus."""
    out: dict[str, float] = {}
    for line in lines:
        if line.startswith("antechamber_media_dropped_packets_total{"):
            out[line.split('reason="', 1)[1].split('"', 1)[0]] = float(line.rsplit(" ", 1)[1])
    return out


def _window(a: dict[float, float] | None, b: dict[float, float] | None) -> list[tuple[float, float]] | None:
    """The cumulative bucket counts (le, count) the lag probe added between two reads, or None."""
    if not a or not b:
        return None
    return [(le, b[le] - a.get(le, 0.0)) for le in sorted(b)]


def lag_counts(a: dict[float, float] | None, b: dict[float, float] | None) -> dict[str, int] | None:
    """The lag probe's samples between two reads by bucket ("<=20": samples above the bucket below and
    at most 20 ms), the empty buckets left out: p99 of ~20 samples is their largest."""
    window = _window(a, b)
    if window is None:
        return None
    out, below = {}, 0.0
    for le, cumulative in window:
        if cumulative > below:
            out["<=inf" if le == float("inf") else f"<={le * 1000:g}"] = int(cumulative - below)
        below = cumulative
    return out


def lag_p99_ms(a: dict[float, float] | None, b: dict[float, float] | None) -> float | None:
    """The bucket holding the 99th percentile of the lag probe's samples between two reads (ms)."""
    window = _window(a, b)
    if window is None or window[-1][1] <= 0:
        return None
    return next((round(le * 1000, 2) for le, n in window if n >= 0.99 * window[-1][1]), None)
