"""Pure rules of rooms: who enters or knocks, permissions, the knock state machine, cooldowns.

No I/O, no clock of their own, nothing of the live layer (docs/architecture.md "Layers").
"""
