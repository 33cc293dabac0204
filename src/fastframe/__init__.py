"""fastframe: whole messages out of stream sockets, and back, at C speed.

Framers say how a byte stream is cut (``LengthPrefixed``, ``Delimited``, ``Lines``,
``FixedSize``, ``Netstring``, ``VarintPrefixed``); each gives a sans-IO decoder and
encodes payloads.  ``FramedSocket`` (or ``connect()``) sends and receives whole
frames over a stream socket; ``fastframe.aio`` does the same on asyncio.
``IMPLEMENTATION`` tells whether the compiled core is in use.
"""

from types import ModuleType
from typing import TYPE_CHECKING

from ._core import IMPLEMENTATION, Decoder
from .errors import (
    ConnectionClosed,
    FastframeError,
    FrameTooLarge,
    IncompleteFrame,
    ProtocolError,
)
from .framers import (
    DEFAULT_MAX_SIZE,
    Delimited,
    FixedSize,
    Framer,
    LengthPrefixed,
    Lines,
    Netstring,
    VarintPrefixed,
)
from .socket import FramedSocket, connect

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_MAX_SIZE",
    "IMPLEMENTATION",
    "ConnectionClosed",
    "Decoder",
    "Delimited",
    "FastframeError",
    "FixedSize",
    "FrameTooLarge",
    "FramedSocket",
    "Framer",
    "IncompleteFrame",
    "LengthPrefixed",
    "Lines",
    "Netstring",
    "ProtocolError",
    "VarintPrefixed",
    "aio",
    "connect",
]


if TYPE_CHECKING:
    # what the lazy import below gives, for type checkers (whose view of a module
    # with __getattr__ would make every misspelt name Any)
    from . import aio
else:

    def __getattr__(name: str) -> ModuleType:
        # ``fastframe.aio`` without ``import fastframe.aio``, and without importing
        # asyncio for programs that never use it
        if name == "aio":
            import importlib

            return importlib.import_module(".aio", __name__)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
