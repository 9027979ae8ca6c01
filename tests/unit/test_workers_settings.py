"""The settings of workers and cluster nodes: UDP port ranges, their split, node ids."""

from __future__ import annotations

import pytest

from server.config import ConfigError, default_node_id, load_settings
from server.workers import split_ports


def test_a_udp_port_range_is_parsed_and_checked():
    assert load_settings({"udp_port_range": "40000-40999"}, env={}).udp_ports == (40000, 40999)
    assert load_settings({}, env={}).udp_ports is None
    assert load_settings({}, env={"ANTECHAMBER_UDP_PORT_RANGE": "50000-50010"}).udp_ports == (50000, 50010)
    for bad in ("40000", "40999-40000", "80-90", "a-b", "40000-70000"):
        with pytest.raises(ConfigError, match="udp_port_range"):
            load_settings({"udp_port_range": bad}, env={})


def test_the_range_is_split_evenly_in_order_among_the_workers():
    assert split_ports((40000, 40999), 2) == [(40000, 40499), (40500, 40999)]
    assert split_ports((40000, 40100), 3) == [(40000, 40032), (40033, 40065), (40066, 40098)]
    assert split_ports(None, 2) == [None, None]
    with pytest.raises(ConfigError, match="too small for 4 workers"):
        split_ports((40000, 40031), 4)


def test_node_ids_and_worker_counts_are_checked():
    assert load_settings({"node_id": "node-1.a_b", "workers": 3}, env={}).workers == 3
    for flags in ({"node_id": "-x"}, {"node_id": "a b"}, {"workers": 0}, {"workers": 65}):
        with pytest.raises(ConfigError):
            load_settings(flags, env={})
    one, two = default_node_id(), default_node_id()
    assert one != two and load_settings({"node_id": one}, env={}).node_id == one
