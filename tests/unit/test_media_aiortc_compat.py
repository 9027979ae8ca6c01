"""media/aiortc_compat/: the start-up probe of aiortc/aioice internals, and the
rule that no media module outside that package touches those internals."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import aioice
import aioice.ice
import aiortc
import pytest
from aiortc import RTCRtpReceiver, RTCRtpSender

from media import aiortc_compat
from media.aiortc_compat import SUPPORTED, AiortcIncompatible, check_aiortc
from media.aiortc_compat.probe import _code_names
from media.ports import MediaConfig
from media.sfu import MediaService

MEDIA = Path(__file__).resolve().parents[2] / "media"
COMPAT = MEDIA / "aiortc_compat"   # the package: every module in it may reach internals
ACCESSORS = {"getattr", "setattr", "hasattr", "delattr"}


# --- the probe --------------------------------------------------------------------------


def test_the_installed_aiortc_passes_the_probe():
    check_aiortc()


def test_a_missing_receiver_method_is_named_with_the_supported_range(monkeypatch):
    monkeypatch.delattr(RTCRtpReceiver, "_run_rtcp")
    with pytest.raises(AiortcIncompatible) as err:
        check_aiortc()
    message = str(err.value)
    assert "RTCRtpReceiver._run_rtcp (tap_receiver)" in message
    assert SUPPORTED in message and "aiortc>=1.16,<1.17" in message
    assert f"aiortc {aiortc.__version__}, aioice {aioice.__version__}" in message


def test_the_direct_send_on_the_ice_pair_is_probed(monkeypatch):
    monkeypatch.delattr(aioice.ice.CandidatePair, "remote_addr")
    with pytest.raises(AiortcIncompatible, match=r"CandidatePair\.remote_addr \(send_rtp_now\)"):
        check_aiortc()


def test_an_ice_send_that_no_longer_uses_the_nominated_pair_is_named(monkeypatch):
    async def sendto(self, data: bytes, component: int) -> None:
        await self.somewhere_else(data, component)

    monkeypatch.setattr(aioice.ice.Connection, "sendto", sendto)
    with pytest.raises(AiortcIncompatible) as err:
        check_aiortc()
    assert "Connection.sendto no longer uses _nominated (send_rtp_now)" in str(err.value)
    assert "Connection.sendto no longer uses protocol (send_rtp_now)" in str(err.value)


def test_a_renamed_mangled_attribute_is_named_without_its_class_prefix(monkeypatch):
    original = RTCRtpSender._run_rtcp

    async def _run_rtcp(self) -> None:  # sender reports no longer read the counters we feed
        await original(self)

    monkeypatch.setattr(RTCRtpSender, "_run_rtcp", _run_rtcp)
    with pytest.raises(AiortcIncompatible) as err:
        check_aiortc()
    assert "RTCRtpSender._run_rtcp no longer uses __packet_count (report_sent)" in str(err.value)


def test_every_missing_internal_is_listed_not_just_the_first(monkeypatch):
    monkeypatch.delattr(RTCRtpSender, "_send_keyframe")
    monkeypatch.delattr(RTCRtpSender, "_retransmit")
    with pytest.raises(AiortcIncompatible) as err:
        check_aiortc()
    assert "RTCRtpSender._send_keyframe" in str(err.value) and "RTCRtpSender._retransmit" in str(err.value)


def test_the_media_service_refuses_to_start(monkeypatch):
    monkeypatch.delattr(RTCRtpSender, "_send_keyframe")
    with pytest.raises(AiortcIncompatible, match="RTCRtpSender._send_keyframe"):
        MediaService(MediaConfig(loopback_candidates=True))


# --- no private aiortc/aioice access outside the aiortc_compat package ---------------------


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _base_internals(class_name: str) -> set[str]:
    """Private names the code of an aiortc/aioice class (and its bases) refers to."""
    cls = getattr(aiortc, class_name, None) or getattr(aioice, class_name, None)
    names: set[str] = set()
    for klass in getattr(cls, "__mro__", ()):
        for value in vars(klass).values():
            names |= _code_names(value)
    return {n for n in names if _private(n)}


def private_accesses(source: str) -> list[tuple[int, str]]:
    """Private aiortc/aioice accesses in one module's source: `x._name` on anything
    but self/cls, getattr & co. with a private name, imports from aiortc/aioice
    submodules (internal modules: only the packages' own exports are public), and
    `self._name` in a subclass of an aiortc/aioice class when the base uses that name."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    strings = {t.id: n.value.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
               and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
               for t in n.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and "." in node.module \
                and node.module.split(".")[0] in ("aiortc", "aioice"):
            found.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if "." in a.name and a.name.split(".")[0] in ("aiortc", "aioice")]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ACCESSORS \
                and len(node.args) >= 2:
            arg = node.args[1]
            text = arg.value if isinstance(arg, ast.Constant) else None
            if isinstance(arg, ast.BinOp) and isinstance(arg.left, ast.Name):
                text = strings.get(arg.left.id)
            if isinstance(text, str) and _private(text):
                found.append((node.lineno, f"{node.func.id}({text!r})"))
        elif isinstance(node, ast.ClassDef):
            internals = set().union(*(_base_internals(b.id) for b in node.bases if isinstance(b, ast.Name)))
            for sub in ast.walk(node):
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self" \
                        and sub.attr in internals:
                    found.append((sub.lineno, f"self.{sub.attr} (used by the aiortc base of {node.name})"))
    return found


def test_the_scan_finds_each_kind_of_private_access():
    sample = '''
import aiortc.rtp
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc import MediaStreamTrack
_S = "_RTCRtpSender__"

class Track(MediaStreamTrack):
    def __init__(self):
        self._id = "x"
        self._mine = 1

def f(sender, pc):
    sender._ssrc
    setattr(sender, _S + "encoder", None)
    getattr(pc, "_RTCPeerConnection__isClosed")
    getattr(pc, "public")
    super().__init__()
'''
    found = [what for _, what in private_accesses(sample)]
    assert found.count("import aiortc.rtp") == 1
    assert "from aiortc.rtcrtpreceiver import" in found
    assert "self._id (used by the aiortc base of Track)" in found
    assert "._ssrc" in found
    assert "setattr('_RTCRtpSender__')" in found and "getattr('_RTCPeerConnection__isClosed')" in found
    assert len(found) == 6, found  # not self._mine, not getattr(pc, "public"), not __init__


def _in_compat(path: Path) -> bool:
    return path.is_relative_to(COMPAT)


def test_no_private_aiortc_access_outside_aiortc_compat():
    modules = sorted(p for p in MEDIA.rglob("*.py") if not _in_compat(p))
    assert len(modules) > 15  # the whole package, recording/ included
    found = [f"{p.relative_to(MEDIA.parent)}:{line}: {what}"
             for p in modules for line, what in private_accesses(p.read_text())]
    assert found == [], "\n".join(found)


def test_aiortc_compat_holds_the_accesses_it_claims():
    """The scan, run on the aiortc_compat package itself, finds what each of its
    modules is there for (and the exclusion above is that package, nothing more)."""
    modules = sorted(COMPAT.glob("*.py"))
    assert {p.name for p in modules} >= {"__init__.py", "receive.py", "send.py", "negotiation.py",
                                         "preencoded.py", "probe.py"}
    assert all(_in_compat(p) for p in modules) and not _in_compat(MEDIA / "ice.py")
    found = {p.name: private_accesses(p.read_text()) for p in modules}
    assert sum(len(f) for f in found.values()) >= 30
    assert any("_nominated" in what for _, what in found["send.py"])
    assert any("_RTCRtpReceiver__" in what for _, what in found["receive.py"])
    assert any("_RTCPeerConnection__" in what for _, what in found["negotiation.py"])
    assert any("_packetize" in what for _, what in found["preencoded.py"])
    assert inspect.getsource(aiortc_compat.check_aiortc).count("p.") > 40
