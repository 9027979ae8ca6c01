"""The compiled module (media/aiortc_compat/_srtpsend.c, _route.c, _fanout.c) and the libsrtp functions it calls.

libsrtp is not linked into the module: its function addresses are taken from pylibsrtp's own cffi
binding, so the C code works on the very contexts (`srtp_t`) pylibsrtp's `Session` objects hold,
with the library pylibsrtp loaded (docs/architecture.md "Paths: ... an RTP packet"). Loaded once:
where the module was not built, pylibsrtp's libsrtp has other signatures, its `Session` no `_srtp`,
or ANTECHAMBER_SEND_PATH=python asks for it (bench/vs_janus.py measures both), everything here is
None and the callers take pylibsrtp's Python way.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable, Optional

import pylibsrtp

_FN_TYPE = "<ctype 'srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)'>"   # libsrtp 2


_NONE = (None,) * 6 + (0, 0, 0)


def compiled_module() -> Any:
    """The compiled module (every C file of setup.py), or None where it was not built or
    ANTECHAMBER_SEND_PATH=python asks for the Python path; its libsrtp part is checked by `_load`."""
    if os.environ.get("ANTECHAMBER_SEND_PATH") == "python":
        return None
    try:   # by name: `from . import _srtpsend` would import the package's __init__ first
        return importlib.import_module(__name__.rpartition(".")[0] + "._srtpsend")
    except ImportError:
        return None


def _load() -> tuple[Any, ...]:
    module = compiled_module()
    if module is None:
        return _NONE
    try:
        from pylibsrtp._binding import ffi, lib
    except ImportError:
        return _NONE
    Target, Unprotect, Route, Copy, fan = module.Target, module.Unprotect, module.Route, module.Copy, module.fan
    fns = [ffi.addressof(lib, name) for name in ("srtp_protect", "srtp_unprotect", "srtp_unprotect_rtcp")]
    if any(str(ffi.typeof(f)) != _FN_TYPE for f in fns) or "_srtp" not in pylibsrtp.Session.__init__.__code__.co_names:
        return _NONE
    return (Target, Unprotect, Route, Copy, fan, ffi, *(int(ffi.cast("uintptr_t", f)) for f in fns))


# Copy and fan: media/forward/copy.py's copies in C (media/aiortc_compat/_fanout.c)
Target, Unprotect, Route, Copy, fan, ffi, PROTECT, UNPROTECT, UNPROTECT_RTCP = _load()


def context_address(session: pylibsrtp.Session) -> int:
    """The address of the `srtp_t` a pylibsrtp session holds (only where the module loaded)."""
    return int(ffi.cast("uintptr_t", session._srtp[0]))


Unprotecting = Callable[[bytes], Optional[bytes]]
"""unprotect(datagram) -> the plain packet, or None when SRTP refuses it (not authentic, a replay,
malformed, longer than pylibsrtp's buffer): the datagram is then to be dropped."""


def unprotect_functions(session: pylibsrtp.Session) -> tuple[Unprotecting, Unprotecting]:
    """(RTP, RTCP) unprotect of one receive session: the C module's (one copy, no cffi call per
    packet; it keeps the session alive) or pylibsrtp's, with its refusals turned into None."""
    if Unprotect is not None:
        address = context_address(session)
        return Unprotect(address, UNPROTECT, session).unprotect, Unprotect(address, UNPROTECT_RTCP, session).unprotect
    return _refusing(session.unprotect), _refusing(session.unprotect_rtcp)


# pylibsrtp refuses a datagram that does not authenticate or is a replay (Error), and one longer
# than its 1,500-byte buffer before even looking at it (ValueError): any ICE peer can send those
_REFUSED = (pylibsrtp.Error, ValueError)


def _refusing(unprotect: Callable[[bytes], bytes]) -> Unprotecting:
    def unprotect_or_none(data: bytes) -> Optional[bytes]:
        try:
            return unprotect(data)
        except _REFUSED:
            return None

    return unprotect_or_none
