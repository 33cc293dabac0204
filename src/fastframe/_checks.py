"""Argument checks shared by the cores and the front ends, so that a bad argument
gets the same exception, message included, wherever it is passed."""

from __future__ import annotations

import operator
import socket
import sys
from typing import Any

from . import _messages

# Methods that a socket wrapper overrides when the bytes on the wire are not the
# bytes of the stream (ssl.SSLSocket): reading the descriptor would bypass it.
_IO_METHODS = ("recv", "recv_into", "send", "sendall", "sendmsg")


def nbytes(payload: Any) -> int:
    """The size in bytes of a bytes-like object."""
    return len(payload) if type(payload) is bytes else byte_view(payload).nbytes


def byte_view(obj: Any) -> memoryview:
    """``memoryview(obj)``, refusing what is not bytes-like in fastframe's words
    (the compiled core's too), and what is not contiguous in the compiled core's
    (the C buffer API it asks for a simple, contiguous buffer): memoryview's own
    refusals start with "memoryview: "."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise _messages.not_bytes_like(obj) from None
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return view


def check_socket(sock: Any, tls: bool = False) -> None:
    """``tls``: sock is an ``ssl.SSLSocket``, whose methods FramedSocket calls."""
    if not isinstance(sock, socket.socket):
        raise TypeError(f"FramedSocket needs a socket.socket, not {type(sock).__name__}")
    cls = type(sock)
    for name in () if tls else _IO_METHODS:
        if getattr(cls, name, None) is not getattr(socket.socket, name, None):
            raise TypeError(
                f"FramedSocket reads and writes the socket's descriptor itself, so it "
                f"cannot wrap {cls.__name__}, which overrides {name}()"
            )
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"FramedSocket needs a stream socket (SOCK_STREAM), not {sock.type!r}")


def check_max_frames(max_frames: Any) -> int | None:
    if max_frames is None:
        return None
    return _within(max_frames, 1, "max_frames must be None or at least 1", "max_frames must be at most")


def check_count(n: Any) -> int:
    return _within(n, 0, "recv_exactly() needs a byte count >= 0", "recv_exactly() needs a byte count of at most")


def check_until(delimiter: Any, max_size: Any) -> tuple[bytes, int]:
    delimiter = bytes(delimiter)
    if not delimiter:
        raise ValueError("recv_until() needs a non-empty delimiter")
    return delimiter, check_max_size(max_size)


def check_max_size(max_size: Any) -> int:
    return _within(max_size, 1, "max_size must be at least 1", "max_size must be at most")


def _within(value: Any, low: int, below: str, above: str) -> int:
    """``value`` as an int from ``low`` to sys.maxsize (what C's Py_ssize_t holds)."""
    value = operator.index(value)
    if value < low:
        raise ValueError(f"{below}, not {value}")
    if value > sys.maxsize:
        raise ValueError(f"{above} sys.maxsize ({sys.maxsize}), not {value}")
    return value  # type: ignore[no-any-return]
