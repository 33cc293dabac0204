"""The pure-Python twin of the compiled core (``fastframe._core_c``): the same
names, behaviour and split into files (decode, framings, encode, socket, reader).  It is
what PyPy and platforms without a compiled wheel run."""

from typing import Literal

from .decode import Decoder
from .encode import (
    DelimitedCodec,
    FixedSizeCodec,
    LengthPrefixedCodec,
    NetstringCodec,
    VarintPrefixedCodec,
)
from .framings import (
    DelimitedDecoder,
    FixedSizeDecoder,
    LengthPrefixedDecoder,
    NetstringDecoder,
    UntilEofDecoder,
    VarintPrefixedDecoder,
)
from .reader import ReaderLoop
from .socket import SocketLoop

IMPLEMENTATION: Literal["python"] = "python"

__all__ = [
    "IMPLEMENTATION",
    "Decoder",
    "DelimitedCodec",
    "DelimitedDecoder",
    "FixedSizeCodec",
    "FixedSizeDecoder",
    "LengthPrefixedCodec",
    "LengthPrefixedDecoder",
    "NetstringCodec",
    "NetstringDecoder",
    "ReaderLoop",
    "SocketLoop",
    "UntilEofDecoder",
    "VarintPrefixedCodec",
    "VarintPrefixedDecoder",
]
