"""Every import-linter contract in pyproject.toml holds (server -> signaling -> media, and the
layers inside each package)."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _contract_names() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [c["name"] for c in config["tool"]["importlinter"]["contracts"]]


def test_every_contract_is_kept():
    exe = Path(sys.executable).parent / "lint-imports"
    cmd = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert cmd, "import-linter is not installed (pip install -e '.[test]')"
    proc = subprocess.run([cmd, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = " ".join(proc.stdout.split())      # long contract names wrap in the report
    names = _contract_names()
    assert "server -> signaling -> media" in names and any(n.startswith("server:") for n in names)
    missing = [n for n in names if f"{' '.join(n.split())} KEPT" not in report]
    assert not missing, proc.stdout
