"""Every test that takes ``impl`` runs once per implementation.

The compiled core is imported directly, so a missing or broken extension is an
error, not a skip.  With FASTFRAME_PURE_PYTHON=1 (the pure-Python package, as on
PyPy) only the Python twin exists and is tested.

Every test that takes ``loop_kind`` runs once per event loop: asyncio's default
loop and uvloop (skipped, with the reason, where uvloop cannot be imported).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from fastframe import _purepython
from fastframe._switch import pure_python_requested

if pure_python_requested():
    IMPLEMENTATIONS: list[ModuleType] = [_purepython]
else:
    from fastframe import _speedups

    IMPLEMENTATIONS = [_speedups, _purepython]

try:
    import uvloop  # noqa: F401 - only whether it imports
except ImportError as exc:
    UVLOOP_MISSING: str | None = f"uvloop cannot be imported: {exc}"
else:
    UVLOOP_MISSING = None

settings.register_profile(
    "ci", deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@dataclass(frozen=True)
class Impl:
    """One implementation, reached through the framers (whose codecs both cores make)."""

    module: ModuleType
    fd_path: bool = True  # the compiled FramedSocket's system calls on the descriptor

    @property
    def name(self) -> str:
        name: str = self.module.IMPLEMENTATION
        return name if self.fd_path else f"{name}-object"

    def codec(self, framer: Any) -> Any:
        return framer._codec_in(self.module)

    def decoder(self, framer: Any) -> Any:
        return self.codec(framer).decoder()

    def bind(self, framer: Any) -> Any:
        """An equal framer whose decoders and encoders are this core's (what
        fastframe.aio uses: ``framer.decoder()`` and ``framer._codec``)."""
        return framer._bound_to(self.module)

    def framed_socket(self, sock: Any, framer: Any) -> Any:
        if self.fd_path:
            return self.module.FramedSocket(sock, framer)
        self.module._use_fd_path(False)
        try:
            return self.module.FramedSocket(sock, framer)
        finally:
            self.module._use_fd_path(True)

    def __repr__(self) -> str:
        return self.name


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``impl`` is each implementation; for the FramedSocket tests also the compiled
    core calling the socket's methods, the path of platforms without descriptors.
    ``loop_kind`` is "asyncio" and "uvloop"."""
    if "loop_kind" in metafunc.fixturenames:
        kinds = [
            pytest.param("asyncio"),
            pytest.param(
                "uvloop", marks=pytest.mark.skipif(UVLOOP_MISSING is not None, reason=str(UVLOOP_MISSING))
            ),
        ]
        metafunc.parametrize("loop_kind", kinds)
    if "impl" not in metafunc.fixturenames:
        return
    impls = [Impl(m) for m in IMPLEMENTATIONS]
    if metafunc.module.__name__.startswith("tests.test_socket_") and not pure_python_requested():
        impls.insert(1, Impl(_speedups, fd_path=False))
    metafunc.parametrize("impl", impls, ids=[i.name for i in impls])
