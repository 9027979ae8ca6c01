from server.domain.access.keys import api_key_matches, derive_key, key_matches

SECRET = b"s" * 32


def test_keys_differ_by_room_role_and_version():
    keys = {derive_key(SECRET, r, role, v) for r in ("a", "b") for role in ("host", "viewer") for v in (0, 1)}
    assert len(keys) == 8
    k = derive_key(SECRET, "room", "host", 0)
    assert len(k) == 43 and "=" not in k  # base64url of 32 bytes
    assert derive_key(b"t" * 32, "room", "host", 0) != k


def test_key_matches_and_rotation():
    k = derive_key(SECRET, "room", "host", 0)
    assert key_matches(SECRET, "room", "host", 0, k)
    assert not key_matches(SECRET, "room", "host", 1, k)  # rotated
    assert not key_matches(SECRET, "room", "viewer", 0, k)
    assert not key_matches(SECRET, "room", "host", 0, k[:-1] + ("y" if k.endswith("x") else "x"))
    assert not key_matches(SECRET, "room", "host", 0, "\udcff")


def test_api_key_matches():
    assert api_key_matches(("one-key", "two-key"), "two-key")
    assert not api_key_matches(("one-key",), None)
    assert not api_key_matches(("one-key",), "one-ke")
    assert not api_key_matches((), "anything")
