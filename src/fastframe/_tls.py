"""TLS beneath FramedSocket: transports that look like a non-blocking socket to
the receive and send loops of both cores, and carry the stream encrypted.

``Session`` is the TLS that fastframe runs itself (``connect(ssl=)``,
``start_tls()``): an ``ssl.SSLObject`` over two ``ssl.MemoryBIO`` and the plain
socket, so that every system call is the loop's kind (never blocking, waited
for to the call's deadline, EINTR and signals handled), a receiving and a
sending thread can share the session (OpenSSL's calls are serialized here), and
close_notify can be sent without losing the peer's reply (``ssl.SSLSocket``'s
``unwrap()`` calls ``SSL_shutdown`` twice, and the second call throws away the
application data it meets).  ``Wrapped`` carries a handshaken ``ssl.SSLSocket``
a caller passed in, as far as ``ssl`` lets it.

Both present what the loops ask of a socket object: ``fileno``, ``gettimeout``,
``recv_into``/``recv`` (``BlockingIOError`` when the socket must be waited for,
0 or ``b""`` at the end of the stream), ``send``/``sendmsg``, ``shutdown``,
``close``; and what TLS adds: ``held``, the decrypted bytes received and not yet
taken, which no readiness of the socket announces, taken with ``recv_held_into``
or ``recv_held``.
"""

from __future__ import annotations

import abc
import collections
import errno
import select
import socket
import ssl
import threading
from collections.abc import Sequence
from typing import Any

from . import _messages
from ._waiting import HAS_POLL, Call

# Plaintext encrypted per write: one Python call into OpenSSL per 256 KiB, the
# ciphertext of it held until the kernel takes it.
SEND_CHUNK = 256 * 1024
# Plaintext per TLS record (its largest): a send counts what whole records sent.
RECORD_SIZE = 16 * 1024
# Ciphertext asked of the kernel per receive.  Each receive costs Python calls
# (the socket's, the buffer's): 256 KiB, as asyncio's TLS layer reads, measured
# 1.4x to 1.8x the rate of 64 KiB over TLS here (the decrypted bytes still go
# to the decoder's buffer, and what does not fit waits inside OpenSSL).
RAW_SIZE = 256 * 1024
# A write to a ``Wrapped`` socket waits inside ssl until all of it is sent: one
# TLS record's worth keeps that wait short.
WRAPPED_SEND = 16 * 1024

_NOWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_SEND_FLAGS = _NOWAIT | getattr(socket, "MSG_NOSIGNAL", 0)


def _ready_now(sock: Any, writing: bool) -> bool:
    """Whether a system call on sock would not wait (a look without waiting)."""
    if HAS_POLL:
        poller = select.poll()
        poller.register(sock, select.POLLOUT if writing else select.POLLIN)
        return bool(poller.poll(0))
    fds = [sock]  # Windows
    readable, writable, _ = select.select([] if writing else fds, fds if writing else [], [], 0.0)
    return bool(writable if writing else readable)


# A socket with a timeout waits in its recv() and send() until it is ready, up to
# the whole timeout, whatever the flags: a look first, so that they never wait.
# A blocking or non-blocking socket's calls do what MSG_DONTWAIT says.


def _raw_recv(sock: socket.socket, size: int) -> bytes:
    """One receive that never waits: ``BlockingIOError`` if nothing is there."""
    if (sock.gettimeout() or not _NOWAIT) and not _ready_now(sock, False):
        raise BlockingIOError
    return sock.recv(size, _NOWAIT)


def _raw_send(sock: socket.socket, data: Any) -> int:
    if (sock.gettimeout() or not _NOWAIT) and not _ready_now(sock, True):
        raise BlockingIOError
    return sock.send(data, _SEND_FLAGS)


class _Transport(abc.ABC):
    """What both transports share: the socket's descriptor and timeout, and the
    receives that return bytes (the twin's) made of those into a buffer."""

    socket: Any

    def fileno(self) -> int:
        return self.socket.fileno()  # type: ignore[no-any-return]

    def gettimeout(self) -> float | None:
        return self.socket.gettimeout()  # type: ignore[no-any-return]

    @abc.abstractmethod
    def recv_into(self, view: Any, nbytes: int = 0) -> int:
        """Decrypted bytes into view; 0 at the end of the stream; BlockingIOError
        when the socket must be waited for."""

    @abc.abstractmethod
    def recv_held_into(self, view: Any) -> int:
        """Decrypted bytes that need no system call into view (0: none)."""

    def recv(self, size: int) -> bytes:
        with memoryview(bytearray(size)) as view:
            return view[: self.recv_into(view)].tobytes()

    def recv_held(self, size: int) -> bytes:
        with memoryview(bytearray(size)) as view:
            return view[: self.recv_held_into(view)].tobytes()


class Session(_Transport):
    """fastframe's own TLS over a connected plain socket (see the module)."""

    hands_over = False  # detach() cannot give an SSLObject back as a socket

    def __init__(
        self, sock: socket.socket, context: ssl.SSLContext, server_side: bool, server_hostname: str | None
    ) -> None:
        if sock.gettimeout() == 0.0:  # the handshake would spin, never wait
            raise _messages.handshake_cannot_wait()
        self.socket = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side, server_hostname)
        # ssl.SSLObject's methods are Python wrappers of its _ssl object's: the
        # hot calls (a read per TLS record) skip that frame where it is there.
        self._ssl: Any = getattr(self.tls, "_sslobj", self.tls)
        self._lock = threading.Lock()  # OpenSSL's calls release the GIL: one at a time
        self._wire = bytearray()  # ciphertext not yet taken by the kernel
        # per TLS record in _wire: (its ciphertext bytes, the plaintext bytes it carries)
        self._records: collections.deque[tuple[int, int]] = collections.deque()
        self._owed = 0  # plaintext encrypted into _wire, not yet reported sent
        self._credit = 0  # of which whole records are sent: reported by the next send()
        self._plain = bytearray()  # decrypted bytes that did not fit the last buffer
        self._ended = False  # close_notify, or the end of the ciphertext, was met
        self._write_closed = False  # close_notify was sent
        self._error: ssl.SSLError | None = None  # met after bytes that came before it

    # -- what the loops ask of a socket ----------------------------------------

    @property
    def held(self) -> bool:
        return bool(self._plain) or self._incoming.pending > 0 or self._ssl.pending() > 0

    def handshake(self) -> None:
        """Shake hands, waiting as the socket's timeout says (one deadline)."""
        call = Call(self.socket, io_waits=False)
        while True:
            with self._lock:
                try:
                    self.tls.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    done = False
                self._queue_wire(0)
            while self._wire:
                self._push_waiting(call)
            if done:
                # What came after the peer's last handshake message, in the
                # same read (its first data), is decrypted now: no readiness
                # of the socket will announce it.
                with self._lock:
                    self._decrypt(memoryview(bytearray()), everything=True)
                return
            while True:
                try:
                    data = _raw_recv(self.socket, RAW_SIZE)
                    break
                except BlockingIOError:
                    call.wait(False)
            with self._lock:
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()

    def recv_into(self, view: Any, nbytes: int = 0) -> int:
        """Decrypted bytes into view; 0 at the end of the stream."""
        with self._lock:
            got = self._take_plain(view) or self._decrypt(view)  # what is inside first
            if got:
                return got
            if self._error is not None:
                raise self._error
            while not self._ended:
                data = _raw_recv(self.socket, RAW_SIZE)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                got = self._decrypt(view)
                if got:
                    return got
                if self._error is not None:
                    raise self._error
            return 0

    def recv_held_into(self, view: Any) -> int:
        with self._lock:
            return self._take_plain(view) or self._decrypt(view)

    def send(self, data: Any, flags: int = 0) -> int:
        """Encrypt and send from the start of data; the count of its bytes sent:
        those of the records the kernel took whole.  A send cut short is called
        again with data starting at the first byte not counted (as OpenSSL's own
        SSL_write), which is encrypted already."""
        with self._lock:
            if self._write_closed:
                raise _messages.tls_write_closed()
            if not self._owed:
                with memoryview(data) as view:
                    chunk = view.cast("B")[:SEND_CHUNK]
                    for start in range(0, len(chunk), RECORD_SIZE):
                        piece = chunk[start : start + RECORD_SIZE]
                        self._ssl.write(piece)
                        self._queue_wire(len(piece))
                    self._owed = len(chunk)
            self._push()
            sent = self._credit
            if not sent:
                raise BlockingIOError
            self._credit = 0
            self._owed -= sent
            return sent

    def sendmsg(self, buffers: Sequence[Any], ancdata: Any = (), flags: int = 0) -> int:
        if self._owed:  # the same buffers again: the first ones' ciphertext is queued
            return self.send(b"", flags)
        parts = []
        size = 0
        for buf in buffers:
            parts.append(buf)
            size += memoryview(buf).nbytes
            if size >= SEND_CHUNK:
                break
        return self.send(b"".join(parts), flags)

    def shutdown(self, how: int) -> None:
        """SHUT_WR: close_notify, then the socket's half-close (this side goes
        on reading the peer's reply); anything else: the socket's shutdown."""
        if how != socket.SHUT_WR:
            self.socket.shutdown(how)
            return
        call = Call(self.socket, io_waits=False)
        with self._lock:
            self._close_notify()
        while self._wire:
            if not self._push_waiting(call):
                raise _messages.close_notify_unsent(len(self._wire))
        self.socket.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Close the socket, with close_notify before if it can go at once."""
        with self._lock:
            if not self._wire and not self._write_closed:
                try:
                    self._close_notify()
                    self._push()
                except OSError:  # (ssl.SSLError too) the peer is gone or the session broken
                    pass
        self.socket.close()

    # -- inside ----------------------------------------------------------------

    def _close_notify(self) -> None:
        """close_notify into _wire (the lock held)."""
        if not self._write_closed:
            # What the incoming buffer holds would be thrown away by the
            # shutdown's second SSL_shutdown: decrypted first, kept in _plain.
            self._decrypt(memoryview(bytearray()), everything=True)
            self._write_closed = True
            try:
                self.tls.unwrap()
            except ssl.SSLWantReadError:
                pass  # the peer's close_notify has not come: the half-close
            self._queue_wire(0)

    def _take_plain(self, view: Any) -> int:
        plain = self._plain
        if not plain:
            return 0
        got = min(len(view), len(plain))
        view[:got] = plain[:got]
        del plain[:got]
        return got

    def _decrypt(self, view: Any, everything: bool = False) -> int:
        """What OpenSSL can decrypt now, into view until it is full; with
        ``everything``, the rest after it into _plain, which leaves OpenSSL's
        incoming buffer empty (the rest of a record waits in OpenSSL for the
        rest of its ciphertext)."""
        got = 0
        size = len(view)
        incoming = self._incoming
        read = self._ssl.read
        pending = self._ssl.pending
        try:
            # (a read that finds nothing raises SSLWantReadError, which costs
            # more than asking whether there is anything, or the end to meet)
            while (got < size or everything) and (incoming.pending or pending() or incoming.eof):
                if got < size:
                    n = read(size - got, view[got:])
                    got += n
                else:
                    data = read(RAW_SIZE)
                    n = len(data)
                    self._plain += data
                if not n:  # close_notify
                    self._ended = True
                    break
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            # close_notify, or the end of the ciphertext without it: the end of
            # the stream either way (as ssl's suppress_ragged_eofs)
            self._ended = True
        except ssl.SSLError as exc:
            self._error = exc  # raised once what came before it is taken
        if self._outgoing.pending:  # what reading made OpenSSL answer (a key update, an alert)
            self._queue_wire(0)
            try:
                self._push()
            except OSError:
                # A receive reports what it received: the peer gone is the
                # next send's to say (OpenSSL answers a bare FIN with an
                # alert, which a closed peer refuses).
                pass
        return got

    def _queue_wire(self, plain: int) -> None:
        """What OpenSSL wrote, carrying ``plain`` bytes of plaintext, after _wire."""
        cipher = self._outgoing.read()
        if cipher:
            self._wire += cipher
            self._records.append((len(cipher), plain))

    def _push(self) -> None:
        """Send what ciphertext the kernel takes now (the lock held)."""
        wire = self._wire
        records = self._records
        while wire:
            try:
                sent = _raw_send(self.socket, wire)
            except BlockingIOError:
                return
            del wire[:sent]
            while sent:
                size, plain = records[0]
                if sent < size:
                    records[0] = (size - sent, plain)
                    break
                sent -= size
                records.popleft()
                self._credit += plain

    def _push_waiting(self, call: Call) -> bool:
        """Send some ciphertext, waiting as the call says; False if the socket is
        non-blocking and full."""
        with self._lock:
            self._push()
            if not self._wire:
                return True
        return call.wait(True)


class Wrapped(_Transport):
    """A handshaken ``ssl.SSLSocket`` passed to FramedSocket, driven through its
    own methods.  ssl waits inside them: a receive that finds the start of a
    record waits for its rest up to the socket's timeout, and a send waits
    until its record is written, so a call's deadline can be passed by that
    much; a receiving and a sending thread are as safe together as ssl makes
    them; and ssl cannot send close_notify and go on reading (see the module)."""

    hands_over = True  # detach() gives the SSLSocket back
    socket: ssl.SSLSocket

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.socket = self.tls = sock

    @property
    def held(self) -> bool:
        return self.socket.pending() > 0

    def recv_into(self, view: Any, nbytes: int = 0) -> int:
        sock = self.socket
        if not sock.pending() and not _ready_now(sock, False):
            raise BlockingIOError
        try:
            return sock.recv_into(view)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise BlockingIOError from None
        except ssl.SSLEOFError:  # suppress_ragged_eofs=False: the end all the same
            return 0

    def recv_held_into(self, view: Any) -> int:
        held = self.socket.pending()
        return self.socket.recv_into(view, min(held, len(view))) if held else 0

    def send(self, data: Any, flags: int = 0) -> int:
        sock = self.socket
        if not _ready_now(sock, True):
            raise BlockingIOError
        with memoryview(data) as view:
            try:
                return sock.send(view.cast("B")[:WRAPPED_SEND])
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise BlockingIOError from None
            except ssl.SSLEOFError as exc:  # what a plain socket says of it
                raise BrokenPipeError(errno.EPIPE, f"the peer has gone ({exc})") from None

    def shutdown(self, how: int) -> None:
        if how == socket.SHUT_WR:
            raise _messages.wrapped_half_close()
        # the plain socket's shutdown: ssl.SSLSocket's would drop its TLS state
        # under a receive in another thread, which would then read ciphertext
        socket.socket.shutdown(self.socket, how)

    def close(self) -> None:
        self.socket.close()
