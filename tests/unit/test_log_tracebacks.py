"""Console logs print exceptions without local variables (they can hold keys and tokens)."""

import subprocess
import sys

SCRIPT = r'''
import structlog
from server.logs import configure_logging
configure_logging("console")
def handler():
    api_key = "ak_" + "LOCAL_SECRET_VALUE"
    raise ValueError("boom")
try:
    handler()
except ValueError:
    structlog.get_logger().exception("handler failed")
'''


def test_console_traceback_has_no_locals():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert "handler failed" in proc.stderr and "ValueError: boom" in proc.stderr, proc.stderr
    assert "LOCAL_SECRET_VALUE" not in proc.stderr
