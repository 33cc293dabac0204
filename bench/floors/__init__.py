"""The C floors: the least work any implementation must do, written in Cython and
compiled at bench time by :func:`load` (nothing here is part of fastframe).

* ``codec``: creating the frames' bytes objects from a stream (decode), or writing
  headers and payloads into one preallocated bytes object (encode); the micro
  benchmarks' ``floor-bytes``, ``floor-memcpy`` and ``floor-encode``.
* ``recv``: ``recv()`` with the GIL released and one bytes object per frame, the
  floor of a receive loop; the socket benchmark's ``floor-bytes``.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def load(name: str) -> ModuleType:
    """Compile (once; pyximport caches the build under ~/.pyxbld) and import the
    floor ``name`` (``codec`` or ``recv``).  The pyximport hook is removed again at
    once, so it can never build some other ``.pyx`` (fastframe's own core, say)
    behind our back."""
    import pyximport

    hooks = pyximport.install(pyimport=False, language_level=3)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    finally:
        pyximport.uninstall(*hooks)
