"""Credentials: the secret file, the cluster identity created once in Redis, the data directory
(docs/architecture.md "Cluster identity"). Redis is the real one (tests/helpers/redis_server.py)."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from server.credentials import CredentialsError, load_credentials, read_secret_file
from server.store.redis_store import split_prefix

SECRET = "ab" * 32


@pytest.fixture
def redis_prefix(redis_url):
    """(plain url, unique key prefix); the prefix's keys are deleted after the test."""
    url, _ = split_prefix(redis_url)
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    yield url, prefix
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_a_toml_secret_file_gives_the_secret_and_keys(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text(f'# shared by every node\nserver_secret = "{SECRET}"\napi_keys = ["0123456789abcdef"]\n')
    assert read_secret_file(path) == (bytes.fromhex(SECRET), ("0123456789abcdef",))


def test_a_one_line_secret_file_is_the_hex_secret(tmp_path):
    path = tmp_path / "secret"
    path.write_text(SECRET.upper() + "\n")
    assert read_secret_file(path) == (bytes.fromhex(SECRET), ())


@pytest.mark.parametrize("text, reason", [
    ("abcd\n", "at least 64 hex digits"),
    ('server_secret = "zz"\n', "at least 64 hex digits"),
    (f'server_secret = "{SECRET}"\napi_keys = ["short"]\n', "at least 16 characters"),
    (f'server_secret = "{SECRET}"\nsecret = "x"\n', "unknown setting 'secret'"),
    ('server_secret = \n', "secret_file"),
])
def test_a_bad_secret_file_says_what_is_wrong_without_the_secret(tmp_path, text, reason):
    path = tmp_path / "secret"
    path.write_text(text)
    with pytest.raises(CredentialsError, match=reason) as err:
        read_secret_file(path)
    assert SECRET not in str(err.value)


def test_a_missing_secret_file_is_an_error(tmp_path):
    with pytest.raises(CredentialsError, match="No such file"):
        load_credentials(tmp_path / "data", (), secret_file=tmp_path / "nope")


def test_alone_with_a_secret_file_only_the_generated_key_is_kept_in_the_data_dir(tmp_path):
    path = tmp_path / "secret"
    path.write_text(SECRET)
    creds = load_credentials(tmp_path / "data", (), secret_file=path)
    assert creds.server_secret == bytes.fromhex(SECRET) and creds.generated_api_key
    stored = json.loads((tmp_path / "data" / "credentials.json").read_text())
    assert "server_secret" not in stored and stored["api_keys"] == [creds.generated_api_key]


def test_nodes_on_one_redis_agree_on_the_secret_and_the_generated_key(tmp_path, redis_prefix):
    url, prefix = redis_prefix
    a = load_credentials(tmp_path / "a", (), redis_url=url, key_prefix=prefix)
    b = load_credentials(tmp_path / "b", (), redis_url=url, key_prefix=prefix)
    assert a.server_secret == b.server_secret and len(a.server_secret) == 32
    assert a.api_keys == b.api_keys == (a.generated_api_key,)
    assert b.generated_api_key is None  # printed once, by the node that made it
    assert f"{prefix}cluster:identity" in a.kept_in
    assert not (tmp_path / "a" / "credentials.json").exists()  # never per data directory
    stored = redis.Redis.from_url(url).hgetall(f"{prefix}cluster:identity")
    assert stored[b"server_secret"] == a.server_secret.hex().encode()


def test_configured_keys_generate_none_and_a_secret_file_wins_over_redis(tmp_path, redis_prefix):
    url, prefix = redis_prefix
    path = tmp_path / "secret"
    path.write_text(SECRET)
    creds = load_credentials(tmp_path / "a", ("configured-key-0123456789",), secret_file=path,
                             redis_url=url, key_prefix=prefix)
    assert creds.server_secret == bytes.fromhex(SECRET)
    assert creds.api_keys == ("configured-key-0123456789",) and creds.generated_api_key is None
    assert not redis.Redis.from_url(url).exists(f"{prefix}cluster:identity")


def test_a_data_dir_moving_to_redis_seeds_the_identity_with_its_secret_and_key(tmp_path, redis_prefix):
    url, prefix = redis_prefix
    alone = load_credentials(tmp_path / "a", ())
    moved = load_credentials(tmp_path / "a", (), redis_url=url, key_prefix=prefix)
    other = load_credentials(tmp_path / "b", (), redis_url=url, key_prefix=prefix)
    assert moved.server_secret == other.server_secret == alone.server_secret
    assert moved.api_keys == other.api_keys == alone.api_keys
    assert moved.generated_api_key is None  # it was printed when it was made


def test_redis_away_is_a_one_line_error(tmp_path):
    with pytest.raises(CredentialsError, match="cannot reach Redis"):
        load_credentials(tmp_path / "a", (), redis_url="redis://127.0.0.1:1/0", key_prefix="x:",
                         redis_wait=0.5)


def test_a_key_generated_before_keys_were_configured_stays_accepted(tmp_path, redis_prefix):
    url, prefix = redis_prefix
    first = load_credentials(tmp_path / "a", (), redis_url=url, key_prefix=prefix)
    later = load_credentials(tmp_path / "a", ("configured-key-0123456789",), redis_url=url, key_prefix=prefix)
    assert later.api_keys == ("configured-key-0123456789", first.generated_api_key)
    assert later.server_secret == first.server_secret and later.generated_api_key is None
