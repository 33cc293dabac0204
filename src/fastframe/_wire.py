"""What both cores share: size limits and the errors that malformed input raises.

The error builders live here so that both implementations raise the very same
exception, message included, for the same bytes.
"""

from __future__ import annotations

from typing import Any

from .errors import ProtocolError

# the largest frame a decoder returns unless told otherwise
DEFAULT_MAX_SIZE = 16 * 1024 * 1024

# get_buffer() hands out at least this much: big enough for few syscalls, small
# enough that the frames cut out of it are still in cache.
RECV_SIZE = 64 * 1024
# A frame at least this long is received straight into its own bytes object
# (compiled core), so its bytes are copied once.
LARGE_FRAME = 64 * 1024
# Memory reserved for a large frame runs ahead of the bytes that arrived by at most
# max(RESERVE_AHEAD, bytes arrived): a lying header cannot reserve what it announces.
RESERVE_AHEAD = 1024 * 1024
VARINT_MAX = 10  # bytes in a 64-bit varint
NETSTRING_DIGITS = 20  # digits of 2**64 - 1


def nbytes(payload: Any) -> int:
    """The size in bytes of a bytes-like object."""
    return len(payload) if type(payload) is bytes else byte_view(payload).nbytes


def byte_view(obj: Any) -> memoryview:
    """``memoryview(obj)``, refusing what is not bytes-like, or not contiguous, in
    the compiled core's words (the twin's refusals would otherwise start with
    "memoryview: " or "sequence item": the C buffer API the compiled core asks
    for a simple, contiguous buffer)."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(obj).__name__}'") from None
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return view


def negative_length(value: int, adjustment: int) -> ProtocolError:
    return ProtocolError(
        f"length field {value} with adjustment {adjustment} gives a negative length"
    )


def netstring_non_digit(byte: int) -> ProtocolError:
    return ProtocolError(f"netstring length has a non-digit byte {bytes([byte])!r}")


def netstring_leading_zero() -> ProtocolError:
    return ProtocolError("netstring length has a leading zero")


def netstring_empty() -> ProtocolError:
    return ProtocolError("netstring length is empty")


def netstring_too_long() -> ProtocolError:
    return ProtocolError(f"netstring length is longer than {NETSTRING_DIGITS} digits")


def netstring_no_comma(byte: int) -> ProtocolError:
    return ProtocolError(f"netstring does not end with b',' but {bytes([byte])!r}")


def varint_too_long() -> ProtocolError:
    return ProtocolError(f"varint length is longer than {VARINT_MAX} bytes")


def varint_overflow() -> ProtocolError:
    return ProtocolError("varint length overflows 64 bits")


def head_size(offset: int, got: int) -> ValueError:
    return ValueError(f"head must be exactly offset={offset} bytes, got {got}")


def body_below_adjustment(n: int, adjustment: int) -> ValueError:
    return ValueError(f"a {n}-byte body is shorter than adjustment={adjustment} allows")


def contains_delimiter(delimiter: bytes) -> ValueError:
    return ValueError(f"payload contains the delimiter {delimiter!r}")


def line_ends_with_cr() -> ValueError:
    return ValueError("a line must not end with b'\\r': the decoder would strip it")


def wrong_fixed_size(size: int, got: int) -> ValueError:
    return ValueError(f"payload must be exactly {size} bytes, got {got}")


def buffer_updated_first() -> RuntimeError:
    return RuntimeError("buffer_updated() without a get_buffer() before it")


def nbytes_out_of_range(window: int, nbytes: int) -> ValueError:
    return ValueError(f"nbytes must be between 0 and {window}, got {nbytes}")
