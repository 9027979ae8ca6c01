"""The API key and server secret kept in the data directory (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    server_secret: bytes
    api_keys: tuple[str, ...]
    generated_api_key: str | None  # set only on the first start that generated it


def new_api_key() -> str:
    return "ak_" + secrets.token_urlsafe(32)


def load_or_create(data_dir: Path, configured_keys: tuple[str, ...]) -> Credentials:
    """Read credentials.json, creating it (0600) on first start.

    A generated API key is stored only when no key was configured; configured
    keys are never written to disk.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILE_NAME
    stored: dict = {}
    if path.exists():
        stored = json.loads(path.read_text())
    generated = None
    changed = False
    if "server_secret" not in stored:
        stored["server_secret"] = secrets.token_hex(32)
        changed = True
    if not configured_keys and not stored.get("api_keys"):
        generated = new_api_key()
        stored["api_keys"] = [generated]
        changed = True
    if changed:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.replace(tmp, path)
    os.chmod(path, 0o600)
    keys = tuple(configured_keys) + tuple(stored.get("api_keys", []))
    return Credentials(bytes.fromhex(stored["server_secret"]), keys, generated)
