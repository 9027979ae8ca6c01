"""bench/soak.py in its quick mode (20 join/publish/leave cycles, 4 at a time, real app, real
aiortc peers): afterwards tasks, fds, threads and peer connections are back to the baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


def test_quick_soak_returns_to_baseline(tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=str(ROOT), timeout=170)
    assert out.exists(), proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["cycles"] == 20 and report["failed_cycles"] == 0, report["failures"]
    base, final = report["baseline"], report["final"]
    for key in ("tasks", "fds", "threads", "peer_connections"):
        assert final[key] <= base[key], (key, base[key], final[key], report["samples"])
    assert final["peer_connections"] == 0
    assert report["ok"] and proc.returncode == 0, proc.stdout[-2000:]
