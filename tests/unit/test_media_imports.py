"""media/ imports only downward (room <- participant <- publication ...), and the
recorder meets the SFU only in media.ports: import-linter contracts in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = {
    "media-layers": "media: objects import only downward",
    "media-recording-via-ports": "media: the recorder sees the SFU only through media.ports",
    "media-sfu-without-recorder": "media: the SFU does not import the recorder",
}


def test_media_contracts_hold():
    exe = Path(sys.executable).parent / "lint-imports"
    cmd = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert cmd, "import-linter is not installed (pip install -e '.[test]')"
    selected = [arg for cid in CONTRACTS for arg in ("--contract", cid)]
    proc = subprocess.run([cmd, str(ROOT / "pyproject.toml"), "--no-cache", *selected],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in proc.stdout, proc.stdout
