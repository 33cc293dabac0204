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

    # -- sending (send and send_many are the loop's) -----------------------------

    def sendall(self, data: Buffer) -> None:
        """Send raw bytes, unframed, in order with the frames."""
        self._live_socket()
        self._write([data if type(data) is bytes else _checks.byte_view(data)])

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
        """The socket's descriptor (for selectors)."""
        return self._live_socket().fileno()  # type: ignore[no-any-return]

    def shutdown_write(self) -> None:
        """Send what is queued, then tell the peer that nothing more is coming;
        this side goes on receiving."""
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        self._live_socket().shutdown(socket.SHUT_WR)

    def detach(self) -> tuple[_Socket, bytes]:
        """Give the socket back with every byte received and not returned;
        this FramedSocket is closed afterwards.  Over TLS, only an
        ``ssl.SSLSocket`` given to FramedSocket can be given back."""
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
    """

    __slots__ = ()
    _core: ClassVar[ModuleType] = impl


def connect(
    address: Any,
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
