#!/usr/bin/env bash
# Installs everything the tests need, then runs the whole test suite.
#   - Debian packages: chromium and firefox-esr (browser tests), ffmpeg (ffprobe/ffmpeg read recordings back),
#     coturn (turnserver: the TURN relay test starts its own on loopback; the package's service is not used),
#     redis-server when no Redis answers on 127.0.0.1:6379 (the tests then start their own)
#   - the project with its test extras (pip), in a virtual environment of its own (.venv/), so a
#     package that the tests import but pyproject.toml does not declare fails here as on a new machine.
#     Under CI (CI=true) the environment is made anew on every run; elsewhere it is reused.
#     PYTHON=/path/to/python skips the virtual environment and installs into that interpreter.
# Extra arguments go to pytest, e.g.  bash tests/run.sh -k knock
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
BASE_PY="${PYTHON:-python3}"

redis_up() {
  "$BASE_PY" - <<'PY' 2>/dev/null
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", 6379), timeout=1); s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/firefox-esr ] || need+=(firefox-esr)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
[ -x /usr/bin/turnserver ] || need+=(coturn)
if ! redis_up && ! command -v redis-server >/dev/null 2>&1; then need+=(redis-server); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
else
  VENV=".venv"
  if [ "${CI:-}" = "true" ] && [ -d "$VENV" ]; then rm -rf "$VENV"; fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  PY="$VENV/bin/python"
fi
echo "installing the project and its test extras into $("$PY" -c 'import sys; print(sys.prefix)')"
"$PY" -m pip install -q --disable-pip-version-check -e '.[test]'

exec "$PY" -m pytest -p no:cacheprovider "$@"
