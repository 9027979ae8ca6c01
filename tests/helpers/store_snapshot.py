"""Everything a server keeps, as one comparable value: the SQLite store's full dump and the data
directory's files (name, size, modification time). For tests asserting that a refused call left
the store unchanged (SQLite store only: the dump reads the file with a second connection)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def store_dump(db_path: Path) -> list[str]:
    """Every row of every table (``table: row``), in a stable order."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return [f"{t}: {row!r}" for t in tables
                for row in sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)]
    finally:
        conn.close()


def data_files(data_dir: Path, db_name: str = "antechamber.sqlite3") -> dict[str, tuple[int, int]]:
    """The data directory's files but the store's own (its dump says what the store holds)."""
    out: dict[str, tuple[int, int]] = {}
    for p in sorted(data_dir.rglob("*")):
        if p.is_file() and not p.name.startswith(db_name):
            st = p.stat()
            out[str(p.relative_to(data_dir))] = (st.st_size, st.st_mtime_ns)
    return out


def snapshot(db_path: Path, data_dir: Path) -> tuple[list[str], dict[str, tuple[int, int]]]:
    return store_dump(db_path), data_files(data_dir)


def difference(before, after) -> str:
    """A short account of what changed between two snapshots ('' when nothing did)."""
    if before == after:
        return ""
    rows_b, files_b = before
    rows_a, files_a = after
    set_b, set_a = set(rows_b), set(rows_a)
    lines = [f"- {r[:160]}" for r in rows_b if r not in set_a]
    lines += [f"+ {r[:160]}" for r in rows_a if r not in set_b]
    lines += [f"file {k}: {files_b.get(k)} -> {files_a.get(k)}" for k in sorted(set(files_b) | set(files_a))
              if files_b.get(k) != files_a.get(k)]
    return "\n".join(lines[:20])
