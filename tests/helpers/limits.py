"""The abuse limits the test suite runs with: every test client comes from 127.0.0.1, so the limits
per address that a deployment needs (one pending knock per address, a knock a second, chat rates)
are off here unless a test sets them (tests/integration/test_limits_*.py do)."""

SUITE_LIMITS = dict(pending_knocks_per_ip=0, min_knock_interval_seconds=0.0, chat_per_second=0, chat_per_minute=0)

# the same for server processes (environment variables)
SUITE_LIMITS_ENV = {f"ANTECHAMBER_{name.upper()}": str(value) for name, value in SUITE_LIMITS.items()}
