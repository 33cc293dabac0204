"""The compiled core: one extension module, ``core``, built from core.pyx and the
files it includes (core.pxd declares its classes).  The names below are the
twin's too (``fastframe._core_py``): the selector (``fastframe._core``) takes
either package as the core."""

from .core import (
    IMPLEMENTATION,
    Decoder,
    DelimitedCodec,
    DelimitedDecoder,
    FixedSizeCodec,
    FixedSizeDecoder,
    LengthPrefixedCodec,
    LengthPrefixedDecoder,
    NetstringCodec,
    NetstringDecoder,
    ReaderLoop,
    SocketLoop,
    UntilEofDecoder,
    VarintPrefixedCodec,
    VarintPrefixedDecoder,
    _use_fd_path,
)
