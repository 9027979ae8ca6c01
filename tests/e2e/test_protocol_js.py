"""web/static/js/protocol.js stays in step with docs/protocol.md (no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _doc_types(section: str) -> set[str]:
    text = (ROOT / "docs" / "protocol.md").read_text()
    start = text.index(section)
    end = text.index("\n## ", start + len(section))
    types = set()
    for line in text[start:end].splitlines():
        m = re.match(r"\|\s*((?:`[a-z_]+`(?:,\s*)?)+)\s*\|", line)
        if m:
            types.update(re.findall(r"`([a-z_]+)`", m.group(1)))
    return types


def _js_types(block: str) -> set[str]:
    js = (ROOT / "web" / "static" / "js" / "protocol.js").read_text()
    body = re.search(rf"export const {block} = Object\.freeze\(\{{(.*?)\}}\);", js, re.S).group(1)
    return set(re.findall(r':\s*"([a-z_]+)"', body))


def test_client_messages_match_the_documented_ones():
    documented = _doc_types("## Client → server")
    assert documented, "no client messages found in docs/protocol.md"
    assert _js_types("CLIENT") == documented


def test_server_messages_match_the_documented_ones():
    documented = _doc_types("## Server → client")
    assert documented, "no server messages found in docs/protocol.md"
    assert _js_types("SERVER") == documented
