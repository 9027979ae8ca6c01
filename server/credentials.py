"""The server secret and API keys: one identity for every node (docs/architecture.md "Cluster identity").

Where the server secret comes from, first match wins:

1. a secret file (``secret_file``), shared by every node (a mounted secret);
2. with a Redis URL, the cluster's identity hash ``{prefix}cluster:identity`` (field
   ``server_secret``, hex), created once with HSETNX by the first node, so every node on the same
   Redis agrees — never one per data directory in a cluster;
3. alone, ``credentials.json`` in the data directory (mode 0600), created on first start.

API keys: the configured ones (``api_keys`` setting) and the secret file's are accepted. When
there are none, one key is generated once: with Redis in the same hash (field ``api_key``, HSETNX),
otherwise in credentials.json; the node that generated it prints it once (never logs it). As with
credentials.json, a key generated earlier stays accepted once keys are configured (delete the
field, or the file, to revoke it).

A data directory's credentials.json seeds the Redis hash when that hash is still empty, so a server
that moves from one process to a cluster keeps its links and its generated key.

The secret file is TOML::

    server_secret = "<at least 64 hex digits>"   # e.g. the output of: openssl rand -hex 32
    api_keys = ["<key>", "<key>"]                # optional, each at least 16 characters

or a single line holding only the hex secret.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import redis  # the synchronous client: identity is read before the event loop runs

FILE_NAME = "credentials.json"
IDENTITY_SUFFIX = "cluster:identity"   # after the store's key prefix
MIN_SECRET_BYTES = 32
REDIS_WAIT_SECONDS = 15.0              # how long a starting node waits for Redis to answer


class CredentialsError(ValueError):
    """The secret file or the cluster identity cannot be used (a one-line reason)."""


@dataclass(frozen=True)
class Credentials:
    server_secret: bytes
    api_keys: tuple[str, ...]
    generated_api_key: str | None  # set only on the first start that generated it
    kept_in: str = ""              # where a generated key is kept (for the first-start message)


def new_api_key() -> str:
    return "ak_" + secrets.token_urlsafe(32)


def load_credentials(data_dir: Path, configured_keys: tuple[str, ...], *, secret_file: Path | None = None,
                     redis_url: str = "", key_prefix: str = "", redis_wait: float = REDIS_WAIT_SECONDS) -> Credentials:
    """This node's credentials (see the module docstring). ``redis_url`` is without its prefix
    parameter; ``key_prefix`` is the store's key prefix (server/store/redis_store.py split_prefix)."""
    secret, file_keys = read_secret_file(secret_file) if secret_file else (None, ())
    keys = tuple(configured_keys) + file_keys
    if redis_url:
        return shared_identity(redis_url, key_prefix + IDENTITY_SUFFIX, secret=secret, keys=keys,
                               seed=_read_stored(data_dir), wait=redis_wait)
    return load_or_create(data_dir, keys, secret=secret)


def read_secret_file(path: Path) -> tuple[bytes, tuple[str, ...]]:
    """(server secret, API keys) from a secret file; CredentialsError saying what is wrong."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise CredentialsError(f"secret_file {path}: {exc.strerror or exc}") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if len(lines) == 1 and "=" not in lines[0]:
        raw: dict = {"server_secret": lines[0]}
    else:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CredentialsError(f"secret_file {path}: {exc}") from None
    unknown = set(raw) - {"server_secret", "api_keys"}
    if unknown:
        raise CredentialsError(f"secret_file {path}: unknown setting {sorted(unknown)[0]!r}")
    hexed = raw.get("server_secret")
    if not isinstance(hexed, str) or not re.fullmatch(r"(?:[0-9a-fA-F]{2}){%d,}" % MIN_SECRET_BYTES, hexed):
        raise CredentialsError(f"secret_file {path}: server_secret must be at least {2 * MIN_SECRET_BYTES} hex "
                               "digits (e.g. openssl rand -hex 32)")
    keys = raw.get("api_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and len(k) >= 16 for k in keys):
        raise CredentialsError(f"secret_file {path}: api_keys must be a list of keys of at least 16 characters")
    return bytes.fromhex(hexed), tuple(keys)


def shared_identity(redis_url: str, hash_key: str, *, secret: bytes | None, keys: tuple[str, ...],
                    seed: dict | None = None, wait: float = REDIS_WAIT_SECONDS) -> Credentials:
    """The cluster's identity in the Redis hash ``hash_key``, created once (HSETNX) by whichever
    node comes first; a short synchronous client, used before the app starts."""
    seed = seed or {}
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=3.0, socket_connect_timeout=3.0)
    except ValueError as exc:
        raise CredentialsError(f"redis_url: {exc}") from None
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    raise CredentialsError(f"cannot reach Redis to read the cluster identity: {exc}") from None
                time.sleep(0.25)
        generated = None
        if secret is None:
            client.hsetnx(hash_key, "server_secret", seed.get("server_secret") or secrets.token_hex(32))
            secret = bytes.fromhex(client.hget(hash_key, "server_secret").decode())
        if not keys:
            stored_keys = seed.get("api_keys") or []
            candidate = stored_keys[0] if stored_keys else new_api_key()
            created = client.hsetnx(hash_key, "api_key", candidate)
            key = client.hget(hash_key, "api_key").decode()
            if created and not stored_keys:
                generated = key
            keys = (key,)
        elif (earlier := client.hget(hash_key, "api_key")) is not None:
            keys += (earlier.decode(),)  # a key generated before keys were configured stays valid
    except redis.RedisError as exc:
        raise CredentialsError(f"cannot read the cluster identity from Redis: {exc}") from None
    finally:
        client.close()
    return Credentials(secret, keys, generated, kept_in=f"Redis, hash {hash_key}")


def _read_stored(data_dir: Path) -> dict:
    path = data_dir / FILE_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def load_or_create(data_dir: Path, configured_keys: tuple[str, ...], *, secret: bytes | None = None) -> Credentials:
    """Read credentials.json, creating it (0600) on first start.

    A generated API key is stored only when no key was configured; configured
    keys are never written to disk. With ``secret`` (from a secret file) no secret is stored.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILE_NAME
    stored: dict = {}
    if path.exists():
        stored = json.loads(path.read_text())
    generated = None
    changed = False
    if secret is None and "server_secret" not in stored:
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
    if path.exists():
        os.chmod(path, 0o600)
    keys = tuple(configured_keys) + tuple(stored.get("api_keys", []))
    if secret is None:
        secret = bytes.fromhex(stored["server_secret"])
    return Credentials(secret, keys, generated, kept_in=str(path))
