"""The compiled part, one extension module of four C files: media/aiortc_compat/_srtpsend.c (an
RTP packet built, SRTP-protected and sent in one call; SRTP unprotect), _route.c (a subscriber's
DTLS transport checked and sent on), _fanout.c (a publication's copies forwarded in one call
per slice) and _remb.c (aiortc's REMB estimator). Optional: where it cannot be built (no C
compiler or Python headers) the install still succeeds and the SFU takes its Python path
(media/aiortc_compat/send.py, media/forward/copy.py, aiortc's estimator). Everything else is in
pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "media.aiortc_compat._srtpsend",
            sources=["media/aiortc_compat/_srtpsend.c", "media/aiortc_compat/_route.c", "media/aiortc_compat/_fanout.c",
                     "media/aiortc_compat/_remb.c"],
            depends=["media/aiortc_compat/_srtpsend.h"],
            extra_compile_args=["-O2", "-Wall", "-ffp-contract=off"],   # _remb.c: no fused multiply-add
            libraries=["m"],
            optional=True,
        )
    ]
)
