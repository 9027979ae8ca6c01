"""Short-lived TURN credentials (coturn use-auth-secret): format, HMAC, settings, redaction."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
from pathlib import Path

import pytest

from server.cli import build_parser
from server.config import ConfigError, load_settings
from server.domain.access.turn import DEFAULT_TTL_SECONDS, TurnCredentials, turn_password, verify

SECRET = "north-wind-0123456789-secret"


def coturn_check(secret: str, username: str, credential: str, now: float) -> bool:
    """What coturn does with use-auth-secret, written out independently of the module under test:
    the timestamp before the first ':' must lie in the future, the password is
    base64(HMAC-SHA1(static-auth-secret, username))."""
    expiry = int(username.split(":", 1)[0])
    expected = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return expiry > now and expected == credential


def test_one_entry_per_participant_with_expiry_and_hmac():
    turn = TurnCredentials(SECRET, ("turn:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=tcp"),
                           ttl_seconds=600, clock=lambda: 1_700_000_000.7)
    [entry] = turn("p_abc123")
    assert entry["urls"] == ["turn:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=tcp"]
    assert entry["username"] == "1700000600:p_abc123"
    assert coturn_check(SECRET, entry["username"], entry["credential"], now=1_700_000_000)
    assert not coturn_check(SECRET, entry["username"], entry["credential"], now=1_700_000_601)  # expired
    assert not coturn_check("another-secret-0123456789", entry["username"], entry["credential"], 1_700_000_000)
    assert SECRET not in repr(turn) and SECRET not in repr(entry)


def test_participants_get_their_own_username_and_password():
    turn = TurnCredentials(SECRET, ("turn:t:3478",), clock=lambda: 1000.0)
    a, b = turn("p_a")[0], turn("p_b")[0]
    assert a["username"] == f"{1000 + DEFAULT_TTL_SECONDS}:p_a" and b["username"].endswith(":p_b")
    assert a["credential"] != b["credential"]


def test_verify_refuses_expired_forged_and_malformed():
    user = "2000:p_x"
    good = turn_password(SECRET, user)
    assert verify(SECRET, user, good, now=1999)
    assert not verify(SECRET, user, good, now=2001)
    assert not verify(SECRET, "3000:p_x", good, now=1999)  # expiry moved: the HMAC no longer matches
    assert not verify(SECRET, "p_x", good, now=0)
    assert not verify(SECRET, "soon:p_x", good, now=0)


def test_nothing_without_a_secret():
    assert TurnCredentials("", ("turn:t:3478",))("p") == []


def test_settings_from_flags_env_and_file(tmp_path: Path):
    args = build_parser().parse_args(["serve", "--turn-secret", SECRET, "--turn-url", "turn:a:3478",
                                      "--turn-url", "turns:a:5349", "--ice-transport-policy", "relay"])
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    flags["turn_urls"] = tuple(flags["turn_urls"])
    s = load_settings(flags, env={})
    assert (s.turn_secret, s.turn_urls, s.ice_transport_policy) == (SECRET, ("turn:a:3478", "turns:a:5349"), "relay")
    assert s.turn_ttl_seconds == 6 * 3600
    assert SECRET not in repr(s)
    env = {"ANTECHAMBER_TURN_SECRET": SECRET, "ANTECHAMBER_TURN_URLS": "turn:a:3478, turn:b:3478",
           "ANTECHAMBER_TURN_TTL_SECONDS": "900"}
    s = load_settings({}, env=env)
    assert (s.turn_urls, s.turn_ttl_seconds) == (("turn:a:3478", "turn:b:3478"), 900)
    cfg = tmp_path / "t.toml"
    cfg.write_text(f'turn_secret = "{SECRET}"\nturn_urls = ["turn:c:3478"]\nice_transport_policy = "relay"\n')
    s = load_settings({"config_file": str(cfg)}, env={})
    assert (s.turn_urls, s.ice_transport_policy) == (("turn:c:3478",), "relay")


@pytest.mark.parametrize("settings,fragment", [
    ({"turn_secret": SECRET}, "go together"),
    ({"turn_urls": ("turn:a:3478",)}, "go together"),
    ({"turn_secret": "short", "turn_urls": ("turn:a:3478",)}, "16 characters"),
    ({"turn_secret": SECRET, "turn_urls": ("stun:a:3478",)}, "turn_urls"),
    ({"turn_secret": SECRET, "turn_urls": ("turn:u:p@a:3478",)}, "turn_urls"),
    ({"turn_secret": SECRET, "turn_urls": ("turn:a:3478",), "turn_ttl_seconds": 5}, "turn_ttl_seconds"),
    ({"ice_transport_policy": "relay"}, "needs a TURN server"),
    ({"ice_transport_policy": "none"}, "ice_transport_policy"),
])
def test_bad_turn_settings_are_refused(settings, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(settings, env={})


LOG_SCRIPT = r'''
import structlog, sys
from server.logs import configure_logging
configure_logging(sys.argv[1])
log = structlog.get_logger()
log.info("settings", turn_secret=sys.argv[2], static_auth_secret=sys.argv[2], credential=sys.argv[3])
'''


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_the_secret_and_credentials_are_redacted_from_logs(fmt):
    cred = turn_password(SECRET, "2000:p_x")
    proc = subprocess.run([sys.executable, "-c", LOG_SCRIPT, fmt, SECRET, cred],
                          capture_output=True, text=True, timeout=60)
    assert "settings" in proc.stderr and "[redacted]" in proc.stderr, proc.stderr
    assert SECRET not in proc.stderr and cred not in proc.stderr
