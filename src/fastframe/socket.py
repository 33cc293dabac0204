"""Framed blocking and non-blocking sockets: ``FramedSocket`` and ``connect()``.

``FramedSocket`` is this module's API (argument checks, encoding, the raw reads,
switching framers, closing and detaching) on the selected core's ``SocketLoop``,
which does what is done per frame and per system call: in C on the socket's
descriptor in the compiled core.  The API is written here once, for both cores.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable, Sequence
from socket import socket as _Socket  # FramedSocket.socket hides the module's name
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from . import _checks, _messages
from ._core import impl
from ._limits import DEFAULT_MAX_SIZE, LARGE_FRAME
from ._reads import EXACTLY, UNTIL, UNTIL_EOF
from .framers import Framer, LengthPrefixed, check_framer

if TYPE_CHECKING:
    from typing_extensions import Buffer, Self

    from ._core_py import SocketLoop as _Loop  # what the API adds to: a core's loop
else:
    _Loop = object

__all__ = ["FramedSocket", "connect"]


class SocketAPI(_Loop):
    """What FramedSocket adds to a core's SocketLoop.  A class that combines
    them names the core in ``_core``: the framer's codec is made there."""

    __slots__ = ()
    _core: ClassVar[ModuleType]

    def __init__(self, sock: _Socket, framer: Framer) -> None:
        _checks.check_socket(sock)
        self._open(sock, framer, self._codec_for(framer))

    def _codec_for(self, framer: Framer) -> Any:
        check_framer(framer)
        return framer._codec_in(self._core)

    # -- receiving (recv, recv_many and iteration are the loop's) -------------

    def recv_exactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes of the stream, unframed."""
        n = _checks.check_count(n)
        if n == 0:
            self._live_socket()
            return b""
        return self._read(EXACTLY, n)

    def recv_until(self, delimiter: Buffer, *, keep: bool = False, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """The bytes up to ``delimiter`` (consumed; returned if ``keep``)."""
        return self._read(UNTIL, (*_checks.check_until(delimiter, max_size), bool(keep)))

    def recv_until_eof(self, *, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """Every byte until the peer closes its side (``b""`` if none)."""
        return self._read(UNTIL_EOF, _checks.check_max_size(max_size))

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned."""
        return self._dec.buffered

    @property
    def framer(self) -> Framer:
        """The framer; assign another to decode what follows differently."""
        return self._framer  # type: ignore[no-any-return]

    @framer.setter
    def framer(self, framer: Framer) -> None:
        self._set_framer(framer, self._codec_for(framer))

    # -- sending (send, one frame, is the loop's) ----------------------------------

    def send_many(self, payloads: Iterable[Buffer], *, head: Buffer | None = None) -> None:
        """Send every payload as a frame, in order; all are checked first."""
        self._live_socket()
        self._check_head(head)
        seq = _sequence(payloads)
        try:  # len() counts items, not bytes, for a few buffer types: they go the long way
            all_small = max(map(len, seq), default=0) < LARGE_FRAME  # type: ignore[arg-type]
        except TypeError:
            all_small = False
        if all_small or not any(_checks.nbytes(p) >= LARGE_FRAME for p in seq):
            self._write([self._encode_many(seq, head)])
        else:
            self._write(self._parts(seq, head))

    def sendall(self, data: Buffer) -> None:
        """Send raw bytes, unframed, in order with the frames."""
        self._live_socket()
        self._write([data])

    def flush(self) -> bool:
        """Send what is queued (waiting as the socket's mode says); True when
        nothing is left."""
        self._live_socket()
        return self._write([])

    @property
    def pending_output(self) -> int:
        """Bytes queued and not yet sent."""
        return self._out_size

    @property
    def wants_write(self) -> bool:
        """Whether output is queued (for a select() writers list)."""
        return self._out_size > 0

    def _check_head(self, head: Buffer | None) -> None:
        if head is not None and not isinstance(self._framer, LengthPrefixed):
            raise _messages.head_needs_length_prefixed(self._framer)

    def _encode_many(self, payloads: Sequence[Buffer], head: Buffer | None) -> bytes:
        if head is None:
            return self._codec.encode_many(payloads)  # type: ignore[no-any-return]
        return self._codec.encode_many(payloads, head)  # type: ignore[no-any-return]

    def _parts(self, payloads: Sequence[Buffer], head: Buffer | None) -> list[Any]:
        """What send_many() writes, in order: each run of small payloads encoded
        together, and each big one (LARGE_FRAME bytes or more) uncopied."""
        parts: list[Any] = []
        small: list[Buffer] = []
        for payload in payloads:
            if _checks.nbytes(payload) < LARGE_FRAME:
                small.append(payload)
                continue
            if small:
                parts.append(self._encode_many(small, head))
                small = []
            parts += self._affixed(payload, head)
        if small:
            parts.append(self._encode_many(small, head))
        return parts

    # -- the connection (close() is the loop's) -----------------------------------

    @property
    def socket(self) -> _Socket | None:
        """The socket (None once closed or detached)."""
        return self._sock

    def fileno(self) -> int:
        """The socket's descriptor (for selectors)."""
        return self._live_socket().fileno()

    def shutdown_write(self) -> None:
        """Send what is queued, then tell the peer that nothing more is coming;
        this side goes on receiving."""
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        self._live_socket().shutdown(socket.SHUT_WR)

    def detach(self) -> tuple[_Socket, bytes]:
        """Give the socket back with every byte received and not returned;
        this FramedSocket is closed afterwards."""
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        return self._detach()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._sock is None:
            return f"<FramedSocket closed {self._framer!r}>"
        return f"<FramedSocket fd={self._sock.fileno()} {self._framer!r}>"

    def _live_socket(self) -> _Socket:
        """The socket, unless this FramedSocket is closed."""
        sock = self._sock
        if sock is None:
            raise _messages.closed()
        return sock


def _sequence(payloads: Iterable[Buffer]) -> Sequence[Buffer]:
    """Every payload at once: all are checked before any is sent."""
    if type(payloads) in (list, tuple):
        return payloads  # type: ignore[return-value]
    try:
        items = iter(payloads)
    except TypeError:
        raise TypeError("payloads must be an iterable of bytes-like objects") from None
    return list(items)


class FramedSocket(SocketAPI, impl.SocketLoop):
    """A stream socket that sends and receives whole frames.

    ``FramedSocket(sock, framer)`` takes over ``sock`` (any connected stream
    socket: TCP, AF_UNIX, ``socketpair()``) and frames what goes both ways with
    ``framer``.  The socket's timeout, read at each call, decides how calls wait:
    blocking, a deadline for the whole call, or not at all (non-blocking).
    Nothing is lost on a timeout: received bytes stay buffered for the next call,
    unsent bytes stay queued (``pending_output``) and go out first.
    """

    __slots__ = ()
    _core: ClassVar[ModuleType] = impl


def connect(address: Any, framer: Framer, timeout: float | None = None) -> FramedSocket:
    """Connect to ``address`` and frame the connection with ``framer``.

    ``(host, port)`` connects over TCP (IPv4 or IPv6, as the name resolves); a
    ``str``, ``bytes`` or path-like address is an AF_UNIX socket path (an
    ``OSError`` with ``errno.EAFNOSUPPORT`` where there are none: Windows).
    ``timeout`` becomes the socket's timeout: a deadline for each later call too.
    """
    if isinstance(address, (str, bytes, os.PathLike)):
        if not hasattr(socket, "AF_UNIX"):  # Windows' Python has no AF_UNIX
            raise OSError(errno.EAFNOSUPPORT, "AF_UNIX sockets are not available on this platform")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(os.fspath(address))
        except BaseException:
            sock.close()
            raise
    else:
        sock = socket.create_connection(address, timeout)
        sock.settimeout(timeout)
    try:
        return FramedSocket(sock, framer)
    except BaseException:
        sock.close()
        raise
