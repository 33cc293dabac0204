"""Framed blocking and non-blocking sockets: ``FramedSocket`` and ``connect()``.

``FramedSocket`` is this module's API (argument checks, the raw reads, switching
framers, raw sends, shutting down and detaching) on the selected core's
``SocketLoop``, which does what is done per frame and per system call (receiving,
cutting, send and send_many, the write queue, close): in C on the socket's
descriptor in the compiled core.  The API is written here once, for both cores.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from socket import socket as _Socket  # FramedSocket.socket hides the module's name
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from . import _checks, _fed, _messages
from ._core import impl
from ._limits import DEFAULT_MAX_SIZE
from ._reads import EXACTLY, UNTIL, UNTIL_EOF
from .framers import Framer, check_framer

if TYPE_CHECKING:
    import ssl
    from os import PathLike

    from typing_extensions import Buffer, Self

    from . import _tls
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
        wrapped = _wrapped_tls(sock)
        _checks.check_socket(sock, tls=wrapped is not None)
        self._open(sock, framer, self._codec_for(framer))
        if wrapped is not None:
            self._use_tls(wrapped)

    @classmethod
    def _over(cls, transport: _fed.Fed, framer: Framer) -> Self:
        """A FramedSocket on ``transport``, not a socket: the loop beneath an
        async front end, which feeds it what it receives (fastframe._fed)."""
        fs = cls.__new__(cls)
        fs._open(transport, framer, fs._codec_for(framer))  # type: ignore[arg-type]  # (the loop sees a socket object)
        fs._use_tls(transport)  # the socket-object path, as under TLS
        return fs

    def _codec_for(self, framer: Framer) -> Any:
        check_framer(framer)
        return framer._codec_in(self._core)

    # -- receiving (recv, recv_many and iteration are the loop's) -------------

    def recv_exactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes of the stream, unframed.

        :raises IncompleteFrame: if the stream ends after fewer than ``n``
            bytes (``partial`` holds them)
        :raises ConnectionClosed: if it ends before any byte
        :raises TypeError: if ``n`` is not an int
        :raises ValueError: if ``n`` is negative (or above ``sys.maxsize``)
        :raises TimeoutError: if the socket's timeout passed first; the bytes
            received stay buffered for the next call
        :raises BlockingIOError: if the socket is non-blocking and the bytes
            have not all arrived yet
        :raises FrameTooLarge: if the frames before met it and it is still
            to be raised (it comes first)
        :raises ProtocolError: if the frames before broke the framing
        :raises RuntimeError: if another thread is receiving on this
            FramedSocket
        :raises ssl.SSLError: over TLS, for a TLS alert or a corrupt record
        :raises OSError: if the connection fails (``ConnectionResetError``...),
            or with ``errno.EBADF`` if this FramedSocket is closed
        """
        n = _checks.check_count(n)
        if n == 0:
            self._live_socket()
            return b""
        return self._read(EXACTLY, n)

    def recv_until(self, delimiter: Buffer, *, keep: bool = False, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """The bytes up to ``delimiter`` (consumed; returned if ``keep``).

        :raises FrameTooLarge: if no ``delimiter`` comes within ``max_size``
            bytes (counted as returned), or the frames before met it and it is
            still to be raised (it comes first)
        :raises IncompleteFrame: if the stream ends before ``delimiter``
            (``partial`` holds the bytes received)
        :raises ConnectionClosed: if it ends before any byte
        :raises TypeError: if ``delimiter`` is not bytes-like, or ``max_size``
            is not an int
        :raises ValueError: if ``delimiter`` is empty, or ``max_size`` is below 1
        :raises TimeoutError: if the socket's timeout passed first; the bytes
            received stay buffered for the next call
        :raises BlockingIOError: if the socket is non-blocking and the bytes
            have not all arrived yet
        :raises ProtocolError: if the frames before broke the framing
        :raises RuntimeError: if another thread is receiving on this
            FramedSocket
        :raises ssl.SSLError: over TLS, for a TLS alert or a corrupt record
        :raises OSError: if the connection fails (``ConnectionResetError``...),
            or with ``errno.EBADF`` if this FramedSocket is closed
        """
        return self._read(UNTIL, (*_checks.check_until(delimiter, max_size), bool(keep)))

    def recv_until_eof(self, *, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """Every byte until the peer closes its side (``b""`` if none).

        :raises FrameTooLarge: if more than ``max_size`` bytes come before the
            end, or the frames before met it and it is still to be raised (it
            comes first)
        :raises TypeError: if ``max_size`` is not an int
        :raises ValueError: if ``max_size`` is below 1
        :raises TimeoutError: if the socket's timeout passed first; the bytes
            received stay buffered for the next call
        :raises BlockingIOError: if the socket is non-blocking and the end
            has not come yet
        :raises ProtocolError: if the frames before broke the framing
        :raises RuntimeError: if another thread is receiving on this
            FramedSocket
        :raises ssl.SSLError: over TLS, for a TLS alert or a corrupt record
        :raises OSError: if the connection fails (``ConnectionResetError``...),
            or with ``errno.EBADF`` if this FramedSocket is closed
        """
        return self._read(UNTIL_EOF, _checks.check_max_size(max_size))

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned."""
        return self._dec.buffered

    @property
    def framer(self) -> Framer:
        """The framer; assign another to decode what follows differently.

        :raises TypeError: on assignment, if the value is not a fastframe framer
        :raises RuntimeError: on assignment, if another thread is receiving on
            this FramedSocket
        """
        return self._framer  # type: ignore[no-any-return]

    @framer.setter
    def framer(self, framer: Framer) -> None:
        self._set_framer(framer, self._codec_for(framer))

    # -- sending (send and send_many are the loop's) -----------------------------

    def sendall(self, data: Buffer) -> None:
        """Send raw bytes, unframed, in order with the frames.

        :raises TypeError: if ``data`` is not a contiguous bytes-like object
        :raises TimeoutError: if the socket's timeout passed first; what is not
            sent stays queued (``pending_output``) and goes out first
        :raises RuntimeError: if another thread is sending on this FramedSocket
        :raises OSError: if the connection fails (``BrokenPipeError``,
            ``ConnectionResetError``...), or with ``errno.EBADF`` if this
            FramedSocket is closed
        """
        self._live_socket()
        self._write([data if type(data) is bytes else _checks.byte_view(data)])

    def flush(self) -> bool:
        """Send what is queued (waiting as the socket's mode says); True when
        nothing is left.

        :raises TimeoutError: if the socket's timeout passed first; what is not
            sent stays queued (``pending_output``) and goes out first
        :raises RuntimeError: if another thread is sending on this FramedSocket
        :raises OSError: if the connection fails (``BrokenPipeError``,
            ``ConnectionResetError``...), or with ``errno.EBADF`` if this
            FramedSocket is closed
        """
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

    # -- the connection (close() is the loop's) -----------------------------------

    @property
    def socket(self) -> _Socket | None:
        """The socket, whose timeout rules calls (None once closed or detached);
        over TLS, the plain socket beneath, or the ``ssl.SSLSocket`` given."""
        sock = self._sock
        return sock if self._tls is None or sock is None else self._tls.socket  # type: ignore[no-any-return]

    @property
    def tls(self) -> ssl.SSLObject | ssl.SSLSocket | None:
        """None, or the TLS session: its ``version()``, ``cipher()``,
        ``getpeercert()``, ``selected_alpn_protocol()``..."""
        return None if self._tls is None else self._tls.tls

    def start_tls(
        self, context: ssl.SSLContext, *, server_side: bool = False, server_hostname: str | None = None
    ) -> None:
        """Upgrade this connection to TLS in place (STARTTLS): sends what is
        queued, then shakes hands, waiting as the socket's timeout says.

        Bytes received and not yet returned arrived unencrypted: they are
        refused (``ProtocolError``, the connection closed), never read as if
        they had come over TLS.  A handshake that fails closes the connection.

        :raises ProtocolError: if bytes received are still unread; the
            connection is closed
        :raises ssl.SSLError: if the handshake fails
            (``ssl.SSLCertVerificationError`` for the peer's certificate); the
            connection is closed
        :raises TimeoutError: if the socket's timeout passed before the queued
            output was sent, or during the handshake (then the connection is
            closed)
        :raises ValueError: if this FramedSocket already speaks TLS, or its
            socket is non-blocking (a handshake must wait)
        :raises RuntimeError: if another thread is receiving or sending on
            this FramedSocket
        :raises OSError: if the connection fails (``ConnectionResetError``...),
            or with ``errno.EBADF`` if this FramedSocket is closed
        """
        sock = self._live_socket()
        if self._tls is not None:
            raise _messages.tls_already()
        from . import _tls  # (imports ssl: only connections that use TLS pay for it)

        session = _tls.Session(sock, context, server_side, server_hostname)  # (refuses a non-blocking socket)
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        held = self._dec.buffered
        if held:
            self._dec.detach()  # dropped: never to be returned
            self.close()
            raise _messages.plaintext_before_tls(held)
        try:
            session.handshake()
            self._use_tls(session)
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        """The socket's descriptor (for selectors).

        :raises OSError: with ``errno.EBADF`` if this FramedSocket is closed
        """
        return self._live_socket().fileno()  # type: ignore[no-any-return]

    def shutdown_write(self) -> None:
        """Send what is queued, then tell the peer that nothing more is coming;
        this side goes on receiving.

        :raises BlockingIOError: if the socket is non-blocking and what is
            queued (or TLS's close_notify) cannot all go now; call it again
            once the socket is writable
        :raises ValueError: over an ``ssl.SSLSocket`` given to FramedSocket,
            which cannot send close_notify and go on reading
        :raises TimeoutError: if the socket's timeout passed first; what is not
            sent stays queued (``pending_output``) and goes out first
        :raises RuntimeError: if another thread is sending on this FramedSocket
        :raises OSError: if the connection fails (``BrokenPipeError``,
            ``ConnectionResetError``...), or with ``errno.EBADF`` if this
            FramedSocket is closed
        """
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        self._live_socket().shutdown(socket.SHUT_WR)

    def detach(self) -> tuple[_Socket, bytes]:
        """Give the socket back with every byte received and not returned;
        this FramedSocket is closed afterwards.  Over TLS, only an
        ``ssl.SSLSocket`` given to FramedSocket can be given back.

        :raises ValueError: if the TLS session is fastframe's own
            (``start_tls()``, ``connect(ssl=...)``): it cannot be given back as
            a socket
        :raises BlockingIOError: if the socket is non-blocking and output is
            still queued; ``flush()`` until it returns True
        :raises TimeoutError: if the socket's timeout passed before the queued
            output was sent
        :raises RuntimeError: if another thread is receiving or sending on
            this FramedSocket
        :raises OSError: if the connection fails while the queued output is
            sent, or with ``errno.EBADF`` if this FramedSocket is closed
        """
        tls = self._tls
        if tls is not None and not tls.hands_over:
            raise _messages.tls_detach()
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        sock, held = self._detach()
        return (sock if tls is None else tls.socket), held

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._sock is None:
            return f"<FramedSocket closed {self._framer!r}>"
        if isinstance(self._sock, _fed.Fed):  # beneath an async front end
            return f"<FramedSocket fed by its front end {self._framer!r}>"
        tls = "" if self._tls is None else f" {self._tls.tls.version()}"
        return f"<FramedSocket fd={self._sock.fileno()}{tls} {self._framer!r}>"

    def _live_socket(self) -> Any:
        """The socket (or the TLS transport over it), unless this FramedSocket is closed."""
        sock = self._sock
        if sock is None:
            raise _messages.closed()
        return sock


class FramedSocket(SocketAPI, impl.SocketLoop):
    """A stream socket that sends and receives whole frames.

    ``FramedSocket(sock, framer)`` takes over ``sock`` (any connected stream
    socket: TCP, AF_UNIX, ``socketpair()``) and frames what goes both ways with
    ``framer``.  The socket's timeout, read at each call, decides how calls wait:
    blocking, a deadline for the whole call, or not at all (non-blocking).
    Nothing is lost on a timeout: received bytes stay buffered for the next call,
    unsent bytes stay queued (``pending_output``) and go out first.

    :raises TypeError: if ``sock`` is not a ``socket.socket``, or is of a
        subclass that overrides its I/O methods (other than ``ssl.SSLSocket``),
        or ``framer`` is not a fastframe framer
    :raises ValueError: if ``sock`` is not a stream socket (``SOCK_STREAM``)
    """

    __slots__ = ()
    _core: ClassVar[ModuleType] = impl


def connect(
    address: tuple[str, int] | str | bytes | PathLike[str] | PathLike[bytes],
    framer: Framer,
    timeout: float | None = None,
    *,
    ssl: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> FramedSocket:
    """Connect to ``address`` and frame the connection with ``framer``.

    ``(host, port)`` connects over TCP (IPv4 or IPv6, as the name resolves); a
    ``str``, ``bytes`` or path-like address is an AF_UNIX socket path (an
    ``OSError`` with ``errno.EAFNOSUPPORT`` where there are none: Windows).
    ``timeout`` becomes the socket's timeout: a deadline for each later call too
    (and for the TLS handshake).  ``ssl``: an ``ssl.SSLContext`` to speak TLS
    with, the handshake done on return; ``server_hostname`` is the name the
    server's certificate must have, by default a TCP address's host.

    :raises OSError: if the connection fails: ``ConnectionRefusedError``,
        ``socket.gaierror`` (the host name does not resolve),
        ``FileNotFoundError`` (no such socket path), ``errno.EAFNOSUPPORT``
        (no AF_UNIX sockets here)...
    :raises TimeoutError: if ``timeout`` passed before the connection (or the
        TLS handshake) was done
    :raises TypeError: if ``framer`` is not a fastframe framer
    :raises ssl.SSLError: if the TLS handshake fails
        (``ssl.SSLCertVerificationError`` for the server's certificate)
    :raises BlockingIOError: if ``timeout`` is 0 (non-blocking) and the
        connection cannot be made at once
    :raises ValueError: if ``ssl`` is given with ``timeout=0``: the handshake
        must wait
    """
    if isinstance(address, (str, bytes, os.PathLike)):
        if not hasattr(socket, "AF_UNIX"):  # Windows' Python has no AF_UNIX
            raise OSError(errno.EAFNOSUPPORT, "AF_UNIX sockets are not available on this platform")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(os.fspath(address))
        except FileNotFoundError:
            sock.close()
            tcp = "pass a (host, port) tuple: connect(({host!r}, {port}), framer)"
            raise _messages.no_unix_socket(address, tcp) from None
        except BaseException:
            sock.close()
            raise
    else:
        sock = socket.create_connection(address, timeout)
        sock.settimeout(timeout)
    try:
        fs = FramedSocket(sock, framer)
    except BaseException:
        sock.close()
        raise
    if ssl is not None:
        if server_hostname is None and isinstance(address, tuple):
            server_hostname = address[0]
        fs.start_tls(ssl, server_hostname=server_hostname)  # closes fs if it fails
    return fs


def _wrapped_tls(sock: Any) -> _tls.Wrapped | None:
    """The transport for an ``ssl.SSLSocket``, or None for any other object.
    (ssl is looked up, not imported: a caller with an SSLSocket has imported it.)"""
    ssl_module = sys.modules.get("ssl")
    if ssl_module is not None and isinstance(sock, ssl_module.SSLSocket):
        from . import _tls

        return _tls.Wrapped(sock)
    return None
