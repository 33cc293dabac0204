"""Picks the implementation once, at import: the compiled core unless the
``FASTFRAME_PURE_PYTHON`` switch asks for the pure-Python twin, or the package
was built without the compiled core (the switch set at build time).

A missing or broken extension is an import error, never a silent fallback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Literal

from ._switch import VARIABLE, pure_python_requested

__all__ = ["IMPLEMENTATION", "Decoder", "impl"]


def _built_pure() -> bool:
    """True in a package built with the switch set: its build wrote ``_build.py``
    (see setup.py), a module no source tree and no compiled build has."""
    name = f"{__package__}._build"
    try:
        build = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return False
    return build.PURE_PYTHON is True


def _compiled_core_unusable(error: ImportError) -> ImportError:
    """What importing fastframe says when its compiled core does not import:
    missing (not built, or built for another Python), or there but failing (a
    build of another fastframe or Python, whose own error, chained, may speak of
    a "partially initialized module" and a circular import that is not one)."""
    name = f"{__package__}._core_c.core"
    if isinstance(error, ModuleNotFoundError) and error.name in (name, f"{__package__}._core_c"):
        what = f"fastframe's compiled core ({name}) is missing: this installation has none built for this Python"
    else:
        what = (
            f"fastframe's compiled core ({name}) failed to import ({type(error).__name__}, chained above): "
            "it does not match this fastframe or this Python"
        )
    return ImportError(
        f"{what}. Reinstall fastframe (a wheel for this Python, or a build with a C compiler), "
        f"or set {VARIABLE}=1 to use the pure-Python core.",
        name=name,
    )


# Under TYPE_CHECKING the twin: type checkers see annotated Python, and the
# compiled core's stub (_core_c/core.pyi) is checked to match it.
if TYPE_CHECKING or pure_python_requested() or _built_pure():
    from . import _core_py as impl
else:
    try:
        from . import _core_c as impl
    except ImportError as error:
        raise _compiled_core_unusable(error) from error

IMPLEMENTATION: Literal["cython", "python"] = impl.IMPLEMENTATION
Decoder = impl.Decoder
