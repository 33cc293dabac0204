"""Every core of this installation, side by side: the one list of cores that the
tests, the fuzz harness, the hardening harnesses and the bench run through.

fastframe itself uses one core, picked by ``_core``; this module is for running
both in one process and comparing them.  ``CORES`` is what an installation must
have: the compiled core and the twin, or the twin alone where the compiled core is
not wanted (``FASTFRAME_PURE_PYTHON=1``, or a package built without it).  There,
the compiled core missing is an ``ImportError``, never a core quietly left out.
``load(name)`` reaches one core by name, for the bench, which reports a core that
does not import rather than failing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from . import _core
from ._switch import pure_python_requested

__all__ = ["CORES", "NAMES", "Core", "load"]

# the compiled core first, the twin last: the twin is the reference it is compared with
NAMES = ("cython", "python")
_MODULES = {"cython": "fastframe._speedups", "python": "fastframe._purepython"}


@dataclass(frozen=True)
class Core:
    """One core, reached the way fastframe reaches the selected one: through a
    framer's codec, and the core's ``FramedSocket``."""

    module: ModuleType
    # the compiled FramedSocket's system calls on the descriptor; False: through
    # the socket object's methods, the path of platforms without descriptors
    fd_path: bool = True

    @property
    def name(self) -> str:
        name: str = self.module.IMPLEMENTATION
        return name if self.fd_path else f"{name}-object"

    @property
    def has_object_path(self) -> bool:
        """Whether this core's FramedSocket has a second path (the compiled core's)."""
        return hasattr(self.module, "_use_fd_path")

    def object_path(self) -> Core:
        """This core with its FramedSockets on the socket object's methods."""
        if not self.has_object_path:
            raise ValueError(f"the {self.module.IMPLEMENTATION} core has one path only")
        return replace(self, fd_path=False)

    def codec(self, framer: Any) -> Any:
        """The framer's codec in this core: ``decoder()``, ``encode``, ``encode_many``."""
        return framer._codec_in(self.module)

    def decoder(self, framer: Any) -> Any:
        return self.codec(framer).decoder()

    def bind(self, framer: Any) -> Any:
        """An equal framer whose decoders and encoders are this core's (what
        ``fastframe.aio`` uses: ``framer.decoder()`` and its codec)."""
        return framer._bound_to(self.module)

    @property
    def FramedSocket(self) -> Any:  # noqa: N802 - the class, as the core names it
        return self.module.FramedSocket

    def framed_socket(self, sock: Any, framer: Any) -> Any:
        """``FramedSocket(sock, framer)`` of this core, on this core's path."""
        if self.fd_path:
            return self.module.FramedSocket(sock, framer)
        self.module._use_fd_path(False)
        try:
            return self.module.FramedSocket(sock, framer)
        finally:
            self.module._use_fd_path(True)

    def __repr__(self) -> str:
        return self.name


def load(name: str) -> Core:
    """The core named ``name`` ("cython" or "python"); ``ImportError`` if it is
    not in this installation."""
    if name not in _MODULES:
        raise LookupError(f"no core is named {name!r}: {', '.join(NAMES)}")
    return Core(importlib.import_module(_MODULES[name]))


def _installed() -> tuple[Core, ...]:
    twin = load("python")
    if pure_python_requested() or _core.IMPLEMENTATION == "python":
        return (twin,)
    return (load("cython"), twin)


CORES = _installed()
