"""Peers only the repository measures (the shared ones, the HOWTO's splitter, the
best pure Python and asyncio streams, are ``fastframe._bench.peers``):

* ``floors`` (Cython, compiled at bench time by :func:`load_floors`): the least
  work any implementation must do: creating the frames' bytes objects (decode) or
  writing headers and payloads into one preallocated bytes object (encode).
* ``socket_peers``: a raw ``recv_into`` sink and send loops (``struct.pack`` +
  ``sendall``, ...) for the loopback benchmark.
* ``socket_floors`` (Cython, compiled like ``floors``): ``recv()`` with the GIL
  released and one bytes object per frame, the C floor of a receive loop.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def load_floors() -> ModuleType:
    """Compile (once; pyximport caches the build under ~/.pyxbld) and import
    ``floors.pyx``.  The pyximport hook is removed again at once, so it can never
    build some other ``.pyx`` (fastframe's own core, say) behind our back."""
    import pyximport

    hooks = pyximport.install(pyimport=False, language_level=3)
    try:
        return importlib.import_module(f"{__name__}.floors")
    finally:
        pyximport.uninstall(*hooks)
