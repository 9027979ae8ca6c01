"""Access: derived keys, signed recording links, room links, and who a key makes its bearer (identity)."""
