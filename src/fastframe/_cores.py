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

import functools
import importlib
from types import ModuleType
from typing import Any

from . import _core, socket
from ._switch import pure_python_requested

__all__ = ["CORES", "NAMES", "Core", "load"]

# the compiled core first, the twin last: the twin is the reference it is compared with
NAMES = ("cython", "python")
_MODULES = {"cython": "fastframe._core_c", "python": "fastframe._core_py"}


class Core:
    """One core, reached the way fastframe reaches the selected one: through a
    framer's codec, and the core's ``FramedSocket``.  (A plain class: a
    dataclass would import ``inspect`` into every harness that measures memory.)"""

    __slots__ = ("module", "fd_path")

    def __init__(self, module: ModuleType, fd_path: bool = True) -> None:
        self.module = module
        # the compiled FramedSocket's system calls on the descriptor; False:
        # through the socket object's methods, the path of platforms without them
        self.fd_path = fd_path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Core):
            return NotImplemented
        return (self.module, self.fd_path) == (other.module, other.fd_path)

    def __hash__(self) -> int:
        return hash((self.module, self.fd_path))

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
        return Core(self.module, fd_path=False)

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
        """fastframe's FramedSocket on this core's loop."""
        return _framed_socket_class(self.module)

    @property
    def FramedReader(self) -> Any:  # noqa: N802 - the class, as fastframe.aio names it
        """fastframe.aio's FramedReader on this core's loop: the class of the
        readers of connections whose framer is bound to this core."""
        from . import aio  # (imports asyncio: only for those who use it)

        return aio._reader_class(self.module)

    def framed_socket(self, sock: Any, framer: Any) -> Any:
        """``FramedSocket(sock, framer)`` of this core, on this core's path."""
        if self.fd_path:
            return self.FramedSocket(sock, framer)
        self.module._use_fd_path(False)
        try:
            return self.FramedSocket(sock, framer)
        finally:
            self.module._use_fd_path(True)

    def __repr__(self) -> str:
        return self.name


@functools.cache
def _framed_socket_class(module: ModuleType) -> Any:
    """The selected core's FramedSocket is fastframe's own; another core's is
    the same API (fastframe.socket.SocketAPI) on that core's loop."""
    if module is _core.impl:
        return socket.FramedSocket

    class FramedSocket(socket.SocketAPI, module.SocketLoop):  # type: ignore[misc, name-defined]
        __doc__ = socket.FramedSocket.__doc__
        __slots__ = ()
        _core = module

    return FramedSocket


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
