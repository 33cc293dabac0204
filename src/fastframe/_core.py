"""Picks the implementation once, at import: the compiled core unless the
``FASTFRAME_PURE_PYTHON`` switch asks for the pure-Python twin.

A missing or broken extension is an import error, never a silent fallback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._switch import VARIABLE, pure_python_requested

__all__ = ["IMPLEMENTATION", "Decoder", "impl"]

if TYPE_CHECKING or pure_python_requested():
    from . import _purepython as impl
else:
    try:
        from . import _speedups as impl
    except ImportError as error:
        raise ImportError(
            f"fastframe's compiled core (fastframe._speedups) does not import: {error}. "
            f"Reinstall fastframe with a C compiler available, or set {VARIABLE}=1 "
            "to use the pure-Python implementation.",
            name="fastframe._speedups",
        ) from error

IMPLEMENTATION: str = impl.IMPLEMENTATION
Decoder = impl.Decoder
