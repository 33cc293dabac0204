"""What both FramedSocket implementations share: argument checks and errors.

Both cores raise from here, so that their messages and exception types agree.
"""

from __future__ import annotations

import errno
import operator
import select
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from ._wire import LARGE_FRAME, nbytes
from .errors import ConnectionClosed

# Methods that a socket wrapper overrides when the bytes on the wire are not the
# bytes of the stream (ssl.SSLSocket): reading the descriptor would bypass it.
_IO_METHODS = ("recv", "recv_into", "send", "sendall", "sendmsg")


def check_socket(sock: Any) -> None:
    if not isinstance(sock, socket.socket):
        raise TypeError(f"FramedSocket needs a socket.socket, not {type(sock).__name__}")
    cls = type(sock)
    for name in _IO_METHODS:
        if getattr(cls, name, None) is not getattr(socket.socket, name, None):
            raise TypeError(
                f"FramedSocket reads and writes the socket's descriptor itself, so it "
                f"cannot wrap {cls.__name__}, which overrides {name}()"
            )
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"FramedSocket needs a stream socket (SOCK_STREAM), not {sock.type!r}")


def check_framer(framer: Any) -> None:
    from ._framers import Framer  # _framers imports the core, which imports this

    if not isinstance(framer, Framer):
        raise TypeError(f"framer must be a fastframe framer, not {type(framer).__name__}")


def check_max_frames(max_frames: Any) -> int | None:
    if max_frames is None:
        return None
    max_frames = operator.index(max_frames)
    if max_frames < 1:
        raise ValueError(f"max_frames must be None or at least 1, not {max_frames}")
    if max_frames > sys.maxsize:
        raise ValueError(f"max_frames must be at most sys.maxsize ({sys.maxsize}), not {max_frames}")
    return max_frames  # type: ignore[no-any-return]


def check_count(n: Any) -> int:
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"recv_exactly() needs a byte count >= 0, not {n}")
    if n > sys.maxsize:
        raise ValueError(f"recv_exactly() needs a byte count of at most sys.maxsize ({sys.maxsize}), not {n}")
    return n  # type: ignore[no-any-return]


def check_until(delimiter: Any, max_size: Any) -> tuple[bytes, int]:
    delimiter = bytes(delimiter)
    if not delimiter:
        raise ValueError("recv_until() needs a non-empty delimiter")
    return delimiter, check_max_size(max_size)


def check_max_size(max_size: Any) -> int:
    max_size = operator.index(max_size)
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1, not {max_size}")
    if max_size > sys.maxsize:
        raise ValueError(f"max_size must be at most sys.maxsize ({sys.maxsize}), not {max_size}")
    return max_size  # type: ignore[no-any-return]


def closed() -> OSError:
    return OSError(errno.EBADF, "the FramedSocket is closed")


def connection_closed() -> ConnectionClosed:
    return ConnectionClosed("the peer closed the connection")


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


HAS_POLL = hasattr(select, "poll")


class Call:
    """What one call reads from the socket before its first system call, so
    that each call (in each thread) has its own deadline."""

    __slots__ = ("sock", "fd", "timeout", "deadline")

    def __init__(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if fd < 0:
            raise closed()
        self.sock = sock
        self.fd = fd
        self.timeout = sock.gettimeout()
        self.deadline = 0.0 if not self.timeout else time.monotonic() + self.timeout

    def wait(self, writing: bool) -> bool:
        """Wait until the socket is ready, per its timeout mode: False if it is
        non-blocking; TimeoutError past the deadline."""
        if self.timeout == 0.0:
            return False
        while True:
            # past the deadline, one look without waiting: what is ready is taken,
            # as the descriptor path (and socket.socket) do, trying before waiting
            left = None if self.timeout is None else max(self.deadline - time.monotonic(), 0.0)
            if HAS_POLL:
                poller = select.poll()
                poller.register(self.fd, select.POLLOUT if writing else select.POLLIN)
                # left None: blocking; 0.0: the one look past the deadline
                ready = bool(poller.poll(left * 1000.0 + 1.0 if left else left))
            else:  # Windows
                fds = [self.fd]
                readable, writable, _ = select.select([] if writing else fds, fds if writing else [], [], left)
                ready = bool(readable or writable)
            if ready or left is None:
                return True
            if not left:
                raise timed_out()
            # Not ready, and the deadline not passed by the clock: select() can end
            # a little early, and time.monotonic() moves in 15.6 ms steps on Windows
            # before Python 3.13.  Wait again: the socket method called now would
            # wait up to the socket's whole timeout, past the deadline.

    def attempt(self, writing: bool, io: Callable[..., Any], *args: Any) -> Any:
        """``io(*args)``, a socket method, once the socket is ready: blocking,
        within the deadline, or None at once if it is non-blocking and not ready.
        (The method itself would wait up to the socket's timeout on each call,
        not up to what is left of this call's.)  A signal handler that raises
        as the method returns loses its result: the twin sends without blocking
        for that reason, and the compiled core calls the methods itself."""
        while True:
            if self.timeout:
                self.wait(writing)
            try:
                return io(*args)
            except BlockingIOError:
                if not self.wait(writing):
                    return None


def parts_to_send(
    payloads: Sequence[Any],
    encode_many: Callable[[list[Any]], bytes],
    affixed: Callable[[Any], list[Any]],
) -> list[Any]:
    """What send_many() writes, in order: each run of small payloads encoded
    together, and each big one (LARGE_FRAME bytes or more) between its frame's
    head and tail, uncopied."""
    parts: list[Any] = []
    small: list[Any] = []
    for payload in payloads:
        if nbytes(payload) < LARGE_FRAME:
            small.append(payload)
            continue
        if small:
            parts.append(encode_many(small))
            small = []
        parts += affixed(payload)
    if small:
        parts.append(encode_many(small))
    return parts
