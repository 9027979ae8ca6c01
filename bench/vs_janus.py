"""Antechamber vs Janus VideoRoom (Debian 1.1.2, event_loops = 1), side by side in one run.

    sudo python bench/vs_janus.py [--quick] [--sfu both|antechamber|janus] [--out bench/results/vs_janus.json]

Creates a network namespace ``ac-bench`` with a veth pair 198.18.0.1/30 (outside: the load generator,
bench/vs_janus_client.py, ``taskset -c 0``) <-> 198.18.0.2/30 (inside: the SFU, ``taskset -c 1``), runs each
SFU in turn inside it, and removes the namespace at the end (also on error). Per step: forwarded packets/s
(received by subscribers), µs of SFU process CPU per forwarded packet, loss, fps, RSS per subscriber (RSS
delta over subscribers), time for 50 more joins at that load, Antechamber's event-loop lag (/metrics), and
the ratio to Janus. JSON to bench/results/vs_janus.json, plot to docs/vs_janus.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.vs_janus_metrics import gc_pauses, lag_counts, lag_histogram, lag_p99_ms, sfu_drops  # noqa: E402

NS, OUT_IF, IN_IF = "ac-bench", "acb0", "acb1"
OUT_IP, IN_IP = "198.18.0.1", "198.18.0.2"
API_KEY = "bench-api-key-0123456789abcdef"
AC_PORT, JANUS_PORT = 18080, 18088
# wrappers of the Antechamber server (bench/NAME.py OUT -- server), each writing OUT-SCENARIO-N.json
TOOLS = {"sampler": "sample the server's stacks (bench/sampler.py) over each step's window, then its joins",
         "loop_steps": "run the server on asyncio's loop with each callback timed (bench/loop_steps.py), "
                       "over each step's joins",
         "stalls": "what the server's own loop ran when it was late (bench/stalls.py), over each step's joins"}
CLIENT = ROOT / "bench" / "vs_janus_client.py"
PY = str(ROOT / ".venv" / "bin" / "python")
CLK = os.sysconf("SC_CLK_TCK")
LOGS = Path(tempfile.gettempdir()) / "vs_janus_logs"


def sh(*cmd: str, check: bool = True) -> None:
    subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def netns_up() -> None:
    netns_down()
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", OUT_IF, "type", "veth", "peer", "name", IN_IF)
    sh("ip", "link", "set", IN_IF, "netns", NS)
    sh("ip", "addr", "add", f"{OUT_IP}/30", "dev", OUT_IF)
    sh("ip", "link", "set", OUT_IF, "up")
    sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{IN_IP}/30", "dev", IN_IF)
    sh("ip", "netns", "exec", NS, "ip", "link", "set", IN_IF, "up")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")


def netns_down() -> None:
    sh("ip", "link", "del", OUT_IF, check=False)
    sh("ip", "netns", "del", NS, check=False)


def janus_config(d: Path) -> None:
    lib = "/usr/lib/x86_64-linux-gnu/janus"
    (d / "janus.jcfg").write_text(f"""general: {{
  configs_folder = "{d}"
  plugins_folder = "{lib}/plugins"
  transports_folder = "{lib}/transports"
  events_folder = "{lib}/events"
  loggers_folder = "{lib}/loggers"
  debug_level = 3
  event_loops = 1
  session_timeout = 0
}}
media: {{
  rtp_port_range = "20000-40000"
}}
nat: {{
  nice_debug = false
  ice_enforce_list = "{IN_IF}"
}}
plugins: {{
  disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so"
}}
transports: {{
  disable = "libjanus_websockets.so,libjanus_pfunix.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_rabbitmq.so"
}}
loggers: {{
  disable = "libjanus_jsonlog.so"
}}
events: {{
  broadcast = false
}}
""")
    (d / "janus.transport.http.jcfg").write_text(f"""general: {{
  json = "compact"
  base_path = "/janus"
  http = true
  port = {JANUS_PORT}
  ip = "{IN_IP}"
  https = false
}}
admin: {{
  admin_http = false
}}
""")
    (d / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")


SERVER = {"busy_lag_ms": 250}   # Antechamber's --busy-lag-ms in the runs (the option of the same name)


def start_sfu(sfu: str, tmp: Path, tool: tuple[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    LOGS.mkdir(exist_ok=True)
    log = open(LOGS / f"{sfu}.log", "w")   # kept after the run
    if sfu == "janus":
        janus_config(tmp)
        cmd = ["janus", "-F", str(tmp), "-C", str(tmp / "janus.jcfg")]
        base = f"http://{IN_IP}:{JANUS_PORT}"
        probe = base + "/janus/info"
    else:
        cmd = [str(ROOT / ".venv" / "bin" / "antechamber"), "serve", "--host", IN_IP, "--port", str(AC_PORT),
               "--data-dir", str(tmp / "ac"), "--api-key", API_KEY, "--log-format", "json",
               "--log-level", "warning", "--udp-port-range", "40000-49999", "--rest-rate-limit", "0",
               "--max-forward-pps", "100000000", "--busy-lag-ms", str(SERVER["busy_lag_ms"])]
        base = f"http://{IN_IP}:{AC_PORT}"
        probe = base + "/api/v1/rooms"
        if tool:   # bench/TOOL.py OUT -- the server (TOOLS); SIGTERM is a clean stop
            cmd = [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "bench" / f"{tool[0]}.py"), tool[1], "--", *cmd]
    # every generated participant comes from one address (198.18.0.1) in bursts of 50-100 joins: the
    # per-address and per-room abuse limits a deployment needs would refuse them (the suite turns them
    # off the same way, tests/helpers/limits.py); the busy flag still refuses joins past 0.9 of a core
    env = {**os.environ, "ANTECHAMBER_JOINS_PER_IP_PER_MINUTE": "0", "ANTECHAMBER_JOINS_PER_ROOM_PER_MINUTE": "0",
           "ANTECHAMBER_WS_UNAUTHENTICATED_PER_IP": "0", "ANTECHAMBER_GROUP_MAX_PARTICIPANTS": "1000"}
    proc = subprocess.Popen(["ip", "netns", "exec", NS, "taskset", "-c", "1", *cmd], stdout=log, stderr=log,
                            cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(probe, headers={"Authorization": f"Bearer {API_KEY}"})
            urllib.request.urlopen(req, timeout=1).read()
            return proc, base
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{sfu} did not start: {(LOGS / f'{sfu}.log').read_text()[-2000:]}")


def udp_drops() -> dict[str, int]:
    """UDP datagrams the kernel dropped for a full socket buffer, outside (the generator's) and inside the
    namespace (the SFU's): RcvbufErrors and SndbufErrors of /proc/net/snmp."""
    out: dict[str, int] = {}
    for where, cmd in (("generator", ["cat", "/proc/net/snmp"]), ("sfu", ["ip", "netns", "exec", NS, "cat", "/proc/net/snmp"])):
        text = subprocess.run(cmd, capture_output=True, text=True).stdout
        rows = [line.split()[1:] for line in text.splitlines() if line.startswith("Udp:")]
        if len(rows) == 2:
            udp = dict(zip(rows[0], rows[1]))
            out[f"{where}_rcvbuf"] = int(udp.get("RcvbufErrors", 0))
            out[f"{where}_sndbuf"] = int(udp.get("SndbufErrors", 0))
    return out


def proc_sample(pid: int) -> dict[str, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return {"cpu": cpu, "rss_kib": rss, "wall": time.monotonic()}


def metrics_lines(base: str) -> list[str]:
    """The Antechamber server's /metrics, by line ([] when it has none: Janus)."""
    try:
        req = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
        return urllib.request.urlopen(req, timeout=3).read().decode().splitlines()
    except Exception:  # noqa: BLE001
        return []


def snapshot(pid: int, sfu: str, base: str, joins: bool = False) -> dict[str, Any]:
    """CPU, RSS and clock; for Antechamber also its loop-lag histogram and, around the joins, its
    drops and GC pauses, all from one /metrics read (each read is rendered on the loop it measures)."""
    lines = metrics_lines(base) if sfu == "antechamber" else []
    out = proc_sample(pid) | {"lag": lag_histogram(lines)}
    if joins:
        out |= {"udp": udp_drops(), "drops": sfu_drops(lines), "gc": gc_pauses(lines)}
    return out


def run_scenario(sfu: str, scenario: str, steps: list[int], clip: Path, window: float, joins: int,
                 tool: tuple[str, str] | None = None) -> list[dict]:
    rows: list[dict[str, Any]] = []
    tool = (tool[0], f"{tool[1]}-{scenario}") if tool and sfu == "antechamber" else None   # Janus: not Python
    sampled = tool is not None and tool[0] == "sampler"     # over each step's window too
    with tempfile.TemporaryDirectory(prefix=f"vsj-{sfu}-") as t:
        tmp = Path(t)
        proc, base = start_sfu(sfu, tmp, tool)
        client = subprocess.Popen(["taskset", "-c", "0", PY, str(CLIENT), "--sfu", sfu, "--base", base,
                                   "--clip", str(clip), "--scenario", scenario, "--api-key", API_KEY,
                                   "--steps", ",".join(map(str, steps)), "--window", str(window),
                                   "--joins", str(joins)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            base_rss = None
            w0: dict[str, Any] = {}
            j0: dict[str, Any] = {}
            j1: dict[str, Any] = {}
            assert client.stdout and client.stdin
            for line in client.stdout:
                if line.startswith('{"event": "publishers"}'):
                    time.sleep(1.0)
                    base_rss = proc_sample(proc.pid)["rss_kib"]
                    client.stdin.write("go\n")
                    client.stdin.flush()
                elif line.startswith("WINDOW start"):
                    if sampled:
                        os.kill(proc.pid, signal.SIGUSR1)     # bench/sampler.py: the window's stacks only
                    w0 = snapshot(proc.pid, sfu, base)
                elif line.startswith("WINDOW end"):
                    if sampled:
                        os.kill(proc.pid, signal.SIGUSR2)
                    w1 = snapshot(proc.pid, sfu, base)
                elif line.startswith("JOINS start"):
                    if tool:    # the joins' stacks, callbacks or stalls only
                        os.kill(proc.pid, signal.SIGUSR1)
                    j0 = snapshot(proc.pid, sfu, base, joins=True)
                elif line.startswith("JOINS end"):
                    if tool:
                        os.kill(proc.pid, signal.SIGUSR2)
                    j1 = snapshot(proc.pid, sfu, base, joins=True)
                elif line.startswith("RESULT "):
                    r = json.loads(line[7:])
                    wall = w1["wall"] - w0["wall"]
                    pps = r["received_packets_per_s"]
                    r["sfu_cpu_cores"] = round((w1["cpu"] - w0["cpu"]) / wall, 3)
                    r["us_per_packet"] = round((w1["cpu"] - w0["cpu"]) / (pps * r["window_s"]) * 1e6, 2) if pps else None
                    r["rss_kib"] = w1["rss_kib"]
                    r["rss_per_subscriber_kib"] = round((w1["rss_kib"] - base_rss)
                                                        / max(1, r["subscribers"] + r["publishers_after_baseline"]), 1)
                    r["loop_lag_p99_ms"] = lag_p99_ms(w0["lag"], w1["lag"])
                    if j0 and j1:   # over the joins (issue 17: 50 joins at 200 streams, lag p99 < 20 ms)
                        r["join_loop_lag_p99_ms"] = lag_p99_ms(j0["lag"], j1["lag"])
                        r["join_loop_lag_ms_samples"] = lag_counts(j0["lag"], j1["lag"])
                        r["join_sfu_cpu_cores"] = round((j1["cpu"] - j0["cpu"]) / max(1e-3, j1["wall"] - j0["wall"]), 3)
                        # where held packets were lost over the joins: the kernel's full-buffer drops on each side
                        r["join_udp_drops"] = {k: j1["udp"][k] - j0["udp"].get(k, 0) for k in j1["udp"]}
                        r["join_sfu_drops"] = {k: j1["drops"][k] - j0["drops"].get(k, 0) for k in j1["drops"]}
                        r["join_gc_pauses"] = {k: j1["gc"][k] - j0["gc"].get(k, 0) for k in j1["gc"]}
                    j0 = j1 = {}
                    r["load1"] = os.getloadavg()[0]
                    rows.append(r)
                    print(f"  {sfu} {scenario} {json.dumps(r)}", flush=True)
            client.wait(timeout=60)
        finally:
            if client.poll() is None:
                client.kill()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return rows


def ratios(report: dict[str, Any]) -> None:
    for scenario, by_sfu in report["scenarios"].items():
        janus = {r["step"]: r for r in by_sfu.get("janus", [])}
        for r in by_sfu.get("antechamber", []):
            j = janus.get(r["step"])
            if j and j.get("us_per_packet") and r.get("us_per_packet"):
                r["cpu_ratio_to_janus"] = round(j["us_per_packet"] / r["us_per_packet"], 3)   # >= 1.0: as good
                r["rss_ratio_to_janus"] = round(r["rss_per_subscriber_kib"] / max(0.1, j["rss_per_subscriber_kib"]), 2)


def plot(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    metrics = [("received_packets_per_s", "forwarded packets/s"), ("us_per_packet", "µs SFU CPU / packet"),
               ("rss_per_subscriber_kib", "RSS KiB / subscriber"), ("loss", "loss"), ("join_s", "50 joins (s)")]
    scen = list(report["scenarios"])
    fig, axes = plt.subplots(len(scen), len(metrics), figsize=(4 * len(metrics), 3 * len(scen)), squeeze=False)
    for i, s in enumerate(scen):
        for j, (key, label) in enumerate(metrics):
            ax = axes[i][j]
            for sfu, rows in report["scenarios"][s].items():
                xs = [r["video_streams"] for r in rows if r.get(key) is not None]
                ax.plot(xs, [r[key] for r in rows if r.get(key) is not None], "o-", label=sfu)
            ax.set_title(f"{s}: {label}", fontsize=9)
            ax.set_xlabel("video streams")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sfu", choices=("both", "antechamber", "janus"), default="both")
    ap.add_argument("--scenarios", default="fanout,fanout_audio,rooms")
    ap.add_argument("--fanout-steps", type=lambda v: [int(x) for x in v.split(",")], default=[100, 200, 300, 400, 500],
                    help="subscriber counts of the fan-out scenario's steps")
    ap.add_argument("--rooms-steps", type=lambda v: [int(x) for x in v.split(",")], default=[64, 128, 192, 256, 320],
                    help="video stream counts of the rooms scenario's steps")
    for name, what in TOOLS.items():
        ap.add_argument(f"--{name.replace('_', '-')}", default=None, metavar="OUT", help=what)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "vs_janus.json"))
    ap.add_argument("--plot", default=str(ROOT / "docs" / "vs_janus.png"))
    ap.add_argument("--busy-lag-ms", type=int, default=SERVER["busy_lag_ms"],
                    help="Antechamber's --busy-lag-ms (default 250: the steps measure past the lag a "
                         "deployment would refuse at; 50 is serve's default)")
    args = ap.parse_args()
    SERVER["busy_lag_ms"] = args.busy_lag_ms
    tool = next(((name, getattr(args, name)) for name in TOOLS if getattr(args, name)), None)
    if os.geteuid() != 0 or not shutil.which("janus"):
        sys.exit("needs root (network namespace) and janus (apt-get install -y janus)")
    from bench.forwarding import encode_clip
    from bench.forwarding_client import _write_clip

    steps = {"fanout": [10, 20], "fanout_audio": [10], "rooms": [16]} if args.quick else \
        {"fanout": args.fanout_steps, "fanout_audio": [100, 200, 300, 400], "rooms": args.rooms_steps}
    window, joins = (3.0, 10) if args.quick else (5.0, 50)
    sfus = ["janus", "antechamber"] if args.sfu == "both" else [args.sfu]
    report: dict[str, Any] = {"quick": args.quick, "window_s": window, "joins": joins, "generator_core": 0,
                              "sfu_core": 1, "janus": "Debian 1.1.2, event_loops = 1", "scenarios": {}}
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory() as t:
        clip = Path(t) / "clip.bin"
        _write_clip(encode_clip(640, 480), clip)
        netns_up()
        try:
            for scenario in args.scenarios.split(","):
                for sfu in sfus:
                    try:
                        rows = run_scenario(sfu, scenario, steps[scenario], clip, window, joins, tool)
                    except Exception as e:  # noqa: BLE001 - record and go on with the next one
                        rows = [{"error": repr(e)[:500]}]
                        print(f"  {sfu} {scenario} failed: {e!r}", flush=True)
                    report["scenarios"].setdefault(scenario, {})[sfu] = [r for r in rows if "error" not in r]
                    if any("error" in r for r in rows):
                        report.setdefault("errors", {})[f"{sfu}/{scenario}"] = rows[0]["error"]
        finally:
            netns_down()
    ratios(report)
    report["duration_s"] = round(time.monotonic() - t_start, 1)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    plot(report, Path(args.plot))
    print(f"wrote {args.out} ({report['duration_s']} s)")


if __name__ == "__main__":
    main()
