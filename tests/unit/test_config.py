from pathlib import Path

import pytest

from server.cli import build_parser
from server.config import ConfigError, Settings, load_settings


def test_defaults():
    s = load_settings({}, env={})
    assert s == Settings()
    assert s.base_url == "http://127.0.0.1:8080"


def test_flags_beat_env_beat_file(tmp_path: Path):
    cfg = tmp_path / "a.toml"
    cfg.write_text('port = 7000\nhost = "0.0.0.0"\nlog_format = "json"\napi_keys = ["file-key-0123456789"]\n')
    env = {"ANTECHAMBER_PORT": "7100", "ANTECHAMBER_CONFIG_FILE": str(cfg)}
    s = load_settings({"port": 7200}, env=env)
    assert s.port == 7200  # flag
    assert s.log_format == "json"  # file
    assert s.host == "0.0.0.0"
    assert s.api_keys == ("file-key-0123456789",)
    assert load_settings({}, env=env).port == 7100  # env beats file
    assert load_settings({}, env={"ANTECHAMBER_CONFIG_FILE": str(cfg)}).port == 7000


def test_env_lists_and_section(tmp_path: Path):
    cfg = tmp_path / "b.toml"
    cfg.write_text('[antechamber]\nnormal-max-participants = 6\n')
    s = load_settings({"config_file": str(cfg)},
                      env={"ANTECHAMBER_API_KEYS": "k1-0123456789abcdef, k2-0123456789abcdef"})
    assert s.api_keys == ("k1-0123456789abcdef", "k2-0123456789abcdef")
    assert s.normal_max_participants == 6


def test_settings_are_frozen():
    s = Settings()
    with pytest.raises(Exception):
        s.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "flags,env,fragment",
    [
        ({"log_format": "xml"}, {}, "log_format"),
        ({}, {"ANTECHAMBER_PORT": "eighty"}, "port"),
        ({"api_keys": ("short",)}, {}, "API key"),
        ({"redis_url": "http://x"}, {}, "redis_url"),
        ({"config_file": "/nonexistent/antechamber.toml"}, {}, "does not exist"),
    ],
)
def test_bad_settings_are_refused_clearly(flags, env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(flags, env=env)


def test_unknown_setting_in_file(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({"config_file": str(cfg)}, env={})


def test_cli_flags_parse():
    args = build_parser().parse_args(
        ["serve", "--port", "9000", "--api-key", "a" * 20, "--api-key", "b" * 20, "--redis-url", "redis://h:1/0",
         "--log-format", "json", "--public-url", "https://meet.example.org", "--data-dir", "/tmp/x"])
    assert args.port == 9000 and args.api_keys == ["a" * 20, "b" * 20]
    assert args.redis_url == "redis://h:1/0" and args.log_format == "json"
