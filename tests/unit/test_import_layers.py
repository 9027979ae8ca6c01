"""The import direction server -> signaling -> media, enforced with import-linter."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_layers_contract_holds():
    exe = Path(sys.executable).parent / "lint-imports"
    cmd = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert cmd, "import-linter is not installed (pip install -e '.[test]')"
    proc = subprocess.run([cmd, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "server -> signaling -> media KEPT" in proc.stdout
