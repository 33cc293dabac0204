"""Every test that takes ``impl`` runs once per implementation.

The compiled core is imported directly, so a missing or broken extension is an
error, not a skip.  With FASTFRAME_PURE_PYTHON=1 (the pure-Python package, as on
PyPy) only the Python twin exists and is tested.
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

settings.register_profile(
    "ci", deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@dataclass(frozen=True)
class Impl:
    """One implementation, reached through the framers (whose codecs both cores make)."""

    module: ModuleType

    @property
    def name(self) -> str:
        return self.module.IMPLEMENTATION  # type: ignore[no-any-return]

    def codec(self, framer: Any) -> Any:
        return framer._codec_in(self.module)

    def decoder(self, framer: Any) -> Any:
        return self.codec(framer).decoder()

    def framed_socket(self, sock: Any, framer: Any) -> Any:
        return self.module.FramedSocket(sock, framer)

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(params=[Impl(m) for m in IMPLEMENTATIONS], ids=lambda i: i.name)
def impl(request: pytest.FixtureRequest) -> Impl:
    return request.param  # type: ignore[no-any-return]
