"""Picks the implementation once, at import: the compiled core unless the
``FASTFRAME_PURE_PYTHON`` switch asks for the pure-Python twin.

A missing or broken extension is an import error, never a silent fallback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._switch import pure_python_requested

if TYPE_CHECKING or pure_python_requested():
    from . import _purepython as impl
else:
    from . import _speedups as impl

IMPLEMENTATION: str = impl.IMPLEMENTATION
Decoder = impl.Decoder
