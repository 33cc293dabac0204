"""The exceptions both cores raise, built in one place so that both raise the
very same exception, message included, for the same bytes or the same call."""

from __future__ import annotations

import errno
import os
import re

from ._limits import NETSTRING_DIGITS, VARINT_MAX
from .errors import ConnectionClosed, ProtocolError

# -- malformed input --------------------------------------------------------------


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


# -- encoding and the decoder API misused ----------------------------------------------


def decoder_made_directly() -> TypeError:
    return TypeError(
        "fastframe.Decoder cannot be made directly: it is the base class of the framers' "
        "decoders (for isinstance checks) and decodes no framing itself. "
        "Use framer.decoder(), e.g. fastframe.Lines().decoder()"
    )


def not_bytes_like(obj: object) -> TypeError:
    """What every call that sends, encodes or decodes says of a payload without
    the buffer protocol."""
    if isinstance(obj, str):
        todo = "encode it first, e.g. data.encode()"
    else:
        todo = "pass bytes, a bytearray, a memoryview or another object with the buffer protocol"
    return TypeError(f"expected a bytes-like object, got {type(obj).__name__}: {todo}")


def head_needs_length_prefixed(framer: object) -> TypeError:
    return TypeError(f"head= is for LengthPrefixed framers, not {framer!r}")


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


# -- FramedSocket calls -------------------------------------------------------------


def closed() -> OSError:
    return OSError(errno.EBADF, "the FramedSocket is closed")


def connection_closed() -> ConnectionClosed:
    return ConnectionClosed("the peer closed the connection")


def closed_here() -> OSError:
    """What fastframe.aio's reader raises once its writer has closed the
    connection: no more bytes are taken, and the peer may not have closed."""
    return OSError(
        errno.EBADF,
        "this side closed the connection (writer.close() or abort()): nothing more is received; "
        "receive what you need before closing",
    )


# what an address meant for TCP looks like as a string: HOST:PORT, [IPv6]:PORT
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s/\\:\[\]]+):([0-9]{1,5})")


def no_unix_socket(path: str | bytes | os.PathLike[str] | os.PathLike[bytes], tcp: str) -> OSError | ValueError:
    """What connecting to the Unix socket ``path`` raises when there is no such
    file.  A path that reads as HOST:PORT was meant for TCP: a ValueError says
    how to connect to it there (``tcp``, formatted with ``host`` and ``port``);
    else a FileNotFoundError names the path (the system's names none)."""
    match = _HOST_PORT.fullmatch(os.fsdecode(path))
    if match is not None:
        host, port = match[1].strip("[]"), int(match[2])
        return ValueError(
            f"{os.fsdecode(path)!r} is taken as a Unix socket path, and there is no such file: "
            f"for TCP, {tcp.format(host=host, port=port)}"
        )
    return FileNotFoundError(
        errno.ENOENT,
        "no Unix socket there (no such file or directory): check the path, and that the server listens on it",
        path,
    )


def timed_out() -> TimeoutError:
    return TimeoutError("timed out")


def no_frame_yet() -> BlockingIOError:
    return BlockingIOError(errno.EAGAIN, "no complete frame has arrived yet")


def output_queued(pending: int) -> BlockingIOError:
    return BlockingIOError(
        errno.EAGAIN, f"{pending} bytes of output are still queued: flush() until it returns True"
    )


def busy(side: str) -> RuntimeError:
    return RuntimeError(f"another thread is {side} on this FramedSocket")


def cannot_pickle(obj: object) -> TypeError:
    cls = type(obj)
    return TypeError(f"cannot pickle '{cls.__module__}.{cls.__qualname__}' object")


# -- TLS ------------------------------------------------------------------------------


def plaintext_before_tls(held: int) -> ProtocolError:
    return ProtocolError(
        f"{held} bytes arrived unencrypted before the TLS handshake and were refused, "
        "with the connection: bytes sent in the clear must never be read as if they had "
        "come over TLS (the STARTTLS injection of CVE-2021-23214 and CVE-2011-0411). "
        "Read the peer's answer to the upgrade request exactly (recv_exactly) before start_tls()"
    )


def handshake_cannot_wait() -> ValueError:
    return ValueError(
        "the TLS handshake waits for the peer, and this socket is non-blocking: give it "
        "a timeout (or make it blocking) for the handshake, and setblocking(False) after"
    )


def tls_already() -> ValueError:
    return ValueError("this FramedSocket already speaks TLS")


def tls_write_closed() -> BrokenPipeError:
    return BrokenPipeError(errno.EPIPE, "this side of the TLS connection is shut down (close_notify sent)")


def close_notify_unsent(pending: int) -> BlockingIOError:
    return BlockingIOError(
        errno.EAGAIN,
        f"{pending} bytes of close_notify are still queued: the socket is non-blocking and "
        "full; call shutdown_write() again once it is writable",
    )


def wrapped_half_close() -> ValueError:
    return ValueError(
        "shutdown_write() cannot send close_notify on an ssl.SSLSocket and go on reading: "
        "ssl's unwrap() throws away what the peer sends after it. Make the FramedSocket "
        "with connect(..., ssl=context) or FramedSocket(plain_socket).start_tls(context), "
        "which can"
    )


def tls_detach() -> ValueError:
    return ValueError(
        "this FramedSocket's TLS session lives in an ssl.SSLObject over the socket, which "
        "cannot be handed over as a socket: detach() before start_tls(), or close() it"
    )


def tls_cannot_half_close() -> NotImplementedError:
    return NotImplementedError(
        "write_eof() cannot half-close over TLS with asyncio or uvloop (can_write_eof() is "
        "False): their TLS transports send close_notify only from close(), which also stops "
        "reading. Let a frame say that the requests are done, or close() once the replies "
        "are read"
    )
