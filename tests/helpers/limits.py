"""The abuse limits the test suite runs with: every test client comes from 127.0.0.1, so the limits
per address and per room that a deployment needs (one pending knock per address, a knock a second,
knocks and joins per room and per address, chat rates) are off here unless a test sets them
(tests/integration/test_limits_*.py do). The REST budget, the websockets without a join per address
and the join deadline keep their defaults. The busy flag's lag and CPU rules (media/load.py) are off
(`busy_lag_ms=0`, `busy_cpu=0`): many apps share one loop and one process in a test and the machine
is shared, so their lag and CPU must not refuse joins: with a 2 s lag limit, one 2 s stall of a CI
machine refused a host's join with server_busy. tests/integration/test_sfu_overload.py sets its own
packet budget; tests/unit/test_media_load.py tests the rules. Garbage-collector pacing (media/heap.py)
is off: it is process-wide, and tests check that closed connections are collected
(tests/integration/test_heap_pacing.py runs a server process with it on)."""

SUITE_LIMITS = dict(pending_knocks_per_ip=0, min_knock_interval_seconds=0.0, knocks_per_room_per_minute=0,
                    joins_per_ip_per_minute=0, joins_per_room_per_minute=0, chat_per_second=0, chat_per_minute=0,
                    busy_lag_ms=0, busy_cpu=0.0, gc_pacing=False)

# the same for server processes (environment variables)
SUITE_LIMITS_ENV = {f"ANTECHAMBER_{name.upper()}": str(value) for name, value in SUITE_LIMITS.items()}
