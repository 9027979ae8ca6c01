"""The one compiled part: media/aiortc_compat/_srtpsend.c, the forwarding path's build + SRTP
protect + send in one call. Optional: where it cannot be built (no C compiler or Python headers)
the install still succeeds and the SFU sends through its Python path (media/aiortc_compat/send.py).
Everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "media.aiortc_compat._srtpsend",
            sources=["media/aiortc_compat/_srtpsend.c"],
            depends=["media/aiortc_compat/_srtpsend.h"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        )
    ]
)
