"""deploy/: the compose file, Caddyfile, Dockerfile and systemd unit say what docs/deploy.md says.

The compose file is loaded as YAML (with its ${VAR} interpolation done as compose does it) and
checked for the shape of the cluster: two nodes on Redis without sticky sessions, their own HTTP
ports and UDP ranges, one shared secret file, coturn and the nodes on one TURN secret; every
ANTECHAMBER_* name in the deploy files is a real setting. No image is pulled or built here.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from server.config import Settings, load_settings, parse_port_range

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV = {"PUBLIC_HOST": "meet.example.org", "PUBLIC_IP": "203.0.113.10", "TURN_SECRET": "ab" * 32}
VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[?-][^}]*)?\}")


def _interpolate(text: str, env: dict[str, str]) -> str:
    return VAR.sub(lambda m: env[m.group(1)], text)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(_interpolate((DEPLOY / "compose.yaml").read_text(), ENV))


def _nodes(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items()
            if svc.get("environment", {}).get("ANTECHAMBER_REDIS_URL")}


def test_every_variable_is_in_env_example():
    names = set(VAR.findall((DEPLOY / "compose.yaml").read_text()))
    example = {line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert names == example == set(ENV)


def test_two_nodes_one_cluster(compose):
    nodes = _nodes(compose)
    assert sorted(nodes) == ["app1", "app2"]
    assert {"redis", "coturn", "proxy"} <= set(compose["services"])
    envs = [n["environment"] for n in nodes.values()]
    for key in ("ANTECHAMBER_REDIS_URL", "ANTECHAMBER_SECRET_FILE", "ANTECHAMBER_TURN_SECRET",
                "ANTECHAMBER_PUBLIC_IP", "ANTECHAMBER_PUBLIC_URL"):
        assert len({e[key] for e in envs}) == 1, key  # the same on every node
    assert len({e["ANTECHAMBER_NODE_ID"] for e in envs}) == len(envs)
    assert len({e["ANTECHAMBER_PORT"] for e in envs}) == len(envs)
    for node in nodes.values():
        target = node["secrets"][0]["target"]
        assert node["environment"]["ANTECHAMBER_SECRET_FILE"] == f"/run/secrets/{target}"
        assert node["secrets"][0]["source"] in compose["secrets"]
        assert node["network_mode"] == "host"
        grace = int(node["stop_grace_period"].rstrip("s"))
        assert grace > 30 and node["stop_signal"] == "SIGTERM"  # a drain takes up to 30 s
        assert node["depends_on"]["redis"]["condition"] == "service_healthy"
    # each node's settings are valid as the server reads them
    for env in envs:
        load_settings({}, env={k: str(v) for k, v in env.items()})


def test_udp_ranges_do_not_overlap(compose):
    ranges = [parse_port_range(n["environment"]["ANTECHAMBER_UDP_PORT_RANGE"]) for n in _nodes(compose).values()]
    flags = dict(a.lstrip("-").split("=", 1) for a in compose["services"]["coturn"]["command"] if "=" in a)
    ranges.append((int(flags["min-port"]), int(flags["max-port"])))
    ranges.sort()
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:])), ranges


def test_coturn_shares_the_nodes_turn_secret(compose):
    cmd = compose["services"]["coturn"]["command"]
    assert "--use-auth-secret" in cmd and "--lt-cred-mech" not in cmd and "--no-cli" in cmd
    assert f"--static-auth-secret={ENV['TURN_SECRET']}" in cmd
    assert f"--realm={ENV['PUBLIC_HOST']}" in cmd
    assert "--denied-peer-ip=10.0.0.0-10.255.255.255" in cmd and f"--allowed-peer-ip={ENV['PUBLIC_IP']}" in cmd
    for node in _nodes(compose).values():
        env = node["environment"]
        assert env["ANTECHAMBER_TURN_SECRET"] == ENV["TURN_SECRET"]
        assert "ANTECHAMBER_ICE_SERVERS" not in env  # no long-lived TURN password anywhere
        urls = env["ANTECHAMBER_TURN_URLS"].split(",")
        assert urls and all(u.startswith(f"turn:{ENV['PUBLIC_HOST']}:3478") for u in urls)


def test_caddy_balances_without_sticky_sessions(compose):
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "cookie" not in re.sub(r"#.*", "", caddy) and "lb_policy least_conn" in caddy
    assert "health_uri /readyz" in caddy
    upstreams = set(re.findall(r"127\.0\.0\.1:(\d+)", caddy))
    assert upstreams == {str(n["environment"]["ANTECHAMBER_PORT"]) for n in _nodes(compose).values()}


def test_dockerfile_is_slim_non_root_with_a_health_check():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = re.search(r"^HEALTHCHECK .*?CMD (.*)$", text, re.M | re.S).group(1)
    assert "/healthz" in health and "ANTECHAMBER_PORT" in health
    assert "STOPSIGNAL SIGTERM" in text
    ignore = [ln for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if ln and not ln.startswith("#")]
    assert ignore[0] == "**" and {"!server/", "!signaling/", "!media/", "!web/"} <= set(ignore)


def test_systemd_unit_lets_a_drain_finish():
    unit = (DEPLOY / "antechamber.service").read_text()
    values = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
    assert int(values["TimeoutStopSec"]) > 30 and values["KillSignal"] == "SIGTERM"
    assert values["KillMode"] == "mixed" and values["User"] == "antechamber"
    assert "ANTECHAMBER_SECRET_FILE=%d/secret.toml" in unit and "LoadCredential=secret.toml:" in unit


def test_every_antechamber_name_is_a_setting():
    fields = {f.name for f in dataclasses.fields(Settings)}
    text = "".join((DEPLOY / name).read_text() for name in ("compose.yaml", "Dockerfile", "antechamber.service"))
    text += (DEPLOY.parent / "docs" / "deploy.md").read_text()
    names = set(re.findall(r"ANTECHAMBER_([A-Z_]+)", text))
    assert names and {n.lower() for n in names} <= fields, sorted(n for n in names if n.lower() not in fields)
