"""The room page's string catalogs (web/static/js/strings/*.js, docs/client.md "Languages").

Pure parsing of the page's files: both catalogs have exactly the same keys and placeholders, every
key the page's modules (room-page.js and everything it imports) or room.html use is in them, none
is unused, and no user-visible text of room.html is outside a data-i18n attribute.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
JS = WEB / "static" / "js"
LANGUAGES = ("en", "es")
ENTRY = re.compile(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",\s*$')
IMPORT = re.compile(r'from\s+"\./([\w./-]+\.js)"')
T_CALL = re.compile(r'\bt\(\s*"([^"]+)"')
LITERAL = re.compile(r'"([a-z][A-Za-z]*(?:\.[A-Za-z0-9_]+)+)"')
PLACEHOLDER = re.compile(r"\{(\w+)\}")
TRANSLATED_ATTRS = ("title", "aria-label", "placeholder", "alt")
VOID = {"meta", "link", "img", "input", "br", "hr", "source"}
# Text that is the same in every language: the product's name, the close cross, badge counts.
UNTRANSLATED = {"Antechamber", "✕", "0"}


def catalog(lang: str) -> dict[str, str]:
    text = (JS / "strings" / f"{lang}.js").read_text(encoding="utf-8")
    entries = [m.groups() for line in text.splitlines() if (m := ENTRY.match(line))]
    keys = [k for k, _ in entries]
    assert len(keys) == len(set(keys)), f"{lang}: a key twice"
    assert len(keys) == text.count('": "'), f"{lang}: an entry not on its own line"
    return dict(entries)


def page_modules() -> dict[str, str]:
    """room-page.js and every module it loads, by file name."""
    seen: dict[str, str] = {}
    todo = ["room-page.js"]
    while todo:
        name = todo.pop()
        if name in seen or name.startswith("strings/"):
            continue
        seen[name] = (JS / name).read_text(encoding="utf-8")
        todo.extend(IMPORT.findall(seen[name]))
    return seen


class Page(HTMLParser):
    """room.html's elements with their attributes, and its text outside data-i18n."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.bare_text: list[str] = []
        self.i18n_with_children: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if self.stack and "data-i18n" in self.stack[-1][1]:
            self.i18n_with_children.append(self.stack[-1][1]["data-i18n"])
        if tag not in VOID:
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        text = data.strip()
        if not text or text in UNTRANSLATED or (self.stack and self.stack[-1][0] in ("script", "style")):
            return
        if not (self.stack and "data-i18n" in self.stack[-1][1]):
            self.bare_text.append(text)


@pytest.fixture(scope="module")
def catalogs():
    return {lang: catalog(lang) for lang in LANGUAGES}


@pytest.fixture(scope="module")
def page():
    parser = Page()
    parser.feed((WEB / "room.html").read_text(encoding="utf-8"))
    return parser


def html_keys(page: Page) -> set[str]:
    names = ["data-i18n"] + [f"data-i18n-{a}" for a in TRANSLATED_ATTRS]
    return {attrs[n] for _, attrs in page.elements for n in names if n in attrs}


def js_keys(namespaces: set[str]) -> dict[str, set[str]]:
    """Keys each module uses: `t("key")` calls, and key-shaped literals of a catalog namespace
    (tables of keys such as end-view.js's)."""
    used = {}
    for name, text in page_modules().items():
        keys = set(T_CALL.findall(text))
        keys |= {k for k in LITERAL.findall(text) if k.split(".")[0] in namespaces}
        used[name] = keys
    return used


def test_catalogs_have_the_same_keys_and_placeholders(catalogs):
    en, es = catalogs["en"], catalogs["es"]
    assert len(en) > 150
    assert sorted(set(en) - set(es)) == [], "missing in es.js"
    assert sorted(set(es) - set(en)) == [], "missing in en.js"
    for key in en:
        assert set(PLACEHOLDER.findall(en[key])) == set(PLACEHOLDER.findall(es[key])), key
        assert es[key].strip(), key
    # Spanish is a translation, not a copy: only names and numbers may read the same.
    same = {k for k in en if en[k] == es[k] and re.search(r"[a-z]{3}", PLACEHOLDER.sub("", en[k]))}
    assert same == {"page.titleRoom", "side.chat", "clock.extendBy"}, same


def test_every_key_the_page_uses_is_in_both_catalogs(catalogs, page):
    namespaces = {k.split(".")[0] for k in catalogs["en"]}
    used_js = js_keys(namespaces)
    assert {"meeting-view.js", "join-errors.js", "end-view.js", "waiting-view.js", "knock-panel.js",
            "meeting-clock.js", "controls-view.js", "device-check.js", "share-links.js"} <= set(used_js)
    used = set().union(*used_js.values()) | html_keys(page)
    for lang in LANGUAGES:
        assert sorted(used - set(catalogs[lang])) == [], f"used but not in {lang}.js"
    assert sorted(set(catalogs["en"]) - used) == [], "in the catalogs but used nowhere"


def test_room_html_has_no_text_outside_data_i18n(catalogs, page):
    assert page.bare_text == []
    assert page.i18n_with_children == [], "data-i18n replaces the element's text: no children"
    for tag, attrs in page.elements:
        for attr in TRANSLATED_ATTRS:
            if attrs.get(attr):
                assert f"data-i18n-{attr}" in attrs, f"<{tag} {attr}={attrs[attr]!r}> has no data-i18n-{attr}"
                # The HTML's own text is the English one (what shows before the script runs).
                assert catalogs["en"][attrs[f"data-i18n-{attr}"]] == attrs[attr]


def test_html_default_text_is_the_english_catalogs(catalogs):
    html = (WEB / "room.html").read_text(encoding="utf-8")
    pairs = re.findall(r'data-i18n="([^"]+)"[^>]*>([^<]*)<', html)
    assert len(pairs) > 30
    for key, text in pairs:
        assert catalogs["en"][key] == text.strip(), key


def test_modules_put_no_literal_english_on_the_page():
    """Literal text into the page's labels, toasts and texts goes through t() instead."""
    shown = re.compile(r'(?:textContent\s*=|toast\(|"aria-label":|title:|placeholder:|label:|confirmLabel:|'
                       r'setAttribute\("(?:aria-label|title|placeholder)",)\s*[`"][A-Za-z]')
    offenders = [f"{name}: {m.group(0)}" for name, text in page_modules().items() for m in shown.finditer(text)]
    assert offenders == []
