"""A TLS peer that misbehaves precisely: ``ssl.MemoryBIO`` + ``SSLContext.wrap_bio``
over a plain connected socket, so the test decides every byte that goes on the wire
and where each TLS record ends.

``TLSPeer`` is one end of a TLS session (the server by default, with the test
authority's certificate from tests/support/certs.py; the client with
``server_side=False``).  Its methods are the steps of a script:

- ``handshake()``; ``first_flight(records)``: start the handshake, send only the
  first records of this side's first flight, then do nothing more of it;
- ``send_records(pieces)``: each piece of plaintext its own TLS record (a piece over
  16 KiB becomes several); ``cut(data, size)`` and ``split_each(frames)`` choose the
  boundaries (one record per frame, everything in one record, a frame across records);
- ``fin()``: a bare FIN, ``shutdown(SHUT_WR)`` with no close_notify;
- ``close_notify()``: ``SSL_shutdown`` once (``SSLObject.unwrap()``, its
  ``SSLWantReadError`` caught: the peer's close_notify is not waited for), the record
  flushed; a FIN only if the script then calls ``fin()``;
- ``alert()``: make this side's OpenSSL send a real fatal alert, encrypted under the
  session's keys: it is fed a record that cannot be decrypted and answers, as any
  TLS stack must, with ``bad_record_mac`` (RFC 8446 5.2, RFC 5246 7.2.2);
- ``send_raw(data)``: bytes that are no TLS record (garbage, a plaintext HTTP request),
  and ``plaintext_alert()``: a hand-written unencrypted fatal alert record;
- ``hold()``: say nothing more, reading (and dropping) whatever the other side sends,
  until it closes: a stall, for as long as the test's client keeps waiting.

A script is a function of a ``TLSPeer``; ``serve(script)`` runs it in a thread on
the one connection a fresh listener accepts (for ``connect``-style clients), and
``run(script, sock)`` on a socket already connected.  Every wait is bounded by
IO_TIMEOUT: a peer that waits longer fails (``finish()`` raises what it raised).
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import certs
from .sockets import IO_TIMEOUT, Peer, listener, peer

#: the largest plaintext one TLS record carries (RFC 8446 5.1, RFC 5246 6.2.1)
RECORD_MAX = 16 * 1024

#: TLS record content types
CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23

#: a plaintext HTTP request, sent where a TLS record is due
HTTP_REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

#: bytes of no protocol at all (fixed, so that every run sees the same error)
GARBAGE = random.Random(14).randbytes(64)


def frame(payload: bytes) -> bytes:
    """The wire bytes of one frame of ``LengthPrefixed(4)``: a 4-byte big-endian
    length, then the payload (tests/support/wire.py's rule, written out)."""
    return struct.pack(">I", len(payload)) + payload


def frames_wire(payloads: Sequence[bytes]) -> bytes:
    return b"".join(frame(p) for p in payloads)


def cut(data: bytes, size: int) -> list[bytes]:
    """``data`` in pieces of ``size`` bytes (the last one shorter): record boundaries
    that fall wherever they fall, across frames."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def split_each(wires: Sequence[bytes]) -> list[bytes]:
    """Each frame's bytes in two records, cut in the middle of its header or body."""
    pieces: list[bytes] = []
    for wire in wires:
        middle = max(1, len(wire) // 2)
        pieces += [wire[:middle], wire[middle:]]
    return [p for p in pieces if p]


def records_of(data: bytes) -> list[bytes]:
    """The TLS records in ``data`` (whole records, as one side's flight holds them)."""
    out = []
    while data:
        assert len(data) >= 5, f"a truncated record header: {data!r}"
        length = int.from_bytes(data[3:5], "big")
        out.append(data[: 5 + length])
        data = data[5 + length :]
    return out


class TLSPeer:
    """One end of a TLS session over ``sock``, driven by hand."""

    def __init__(
        self,
        sock: socket.socket,
        context: ssl.SSLContext | None = None,
        *,
        server_side: bool = True,
        server_hostname: str | None = None,
    ) -> None:
        if context is None:
            context = certs.server_context() if server_side else certs.client_context()
        if not server_side and server_hostname is None:
            server_hostname = certs.SERVER_NAME
        self.sock = sock
        self.sock.settimeout(IO_TIMEOUT)
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(
            self.incoming, self.outgoing, server_side=server_side, server_hostname=server_hostname
        )
        #: ciphertext bytes this side has put on the wire (the handshake's included)
        self.sent = 0
        #: the error this side's OpenSSL raised in ``alert()``
        self.alert_cause: ssl.SSLError | None = None
        #: the records of the alert ``alert()`` sent, as they went on the wire
        self.alert_records: list[bytes] = []
        # the session failed on this side (alert()): what comes is no longer read
        self._broken = False

    # -- the wire ---------------------------------------------------------------------

    def flush(self) -> int:
        """Send whatever OpenSSL has written (one sendall: one or a few segments)."""
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)
            self.sent += len(data)
        return len(data)

    def pull(self) -> bool:
        """One recv() into OpenSSL's incoming BIO; False (and the BIO's EOF set) when
        the other side has closed."""
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            data = b""
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    def send_raw(self, data: bytes) -> None:
        """Bytes that go on the wire as they are: not a TLS record of this session."""
        self.sock.sendall(data)
        self.sent += len(data)

    def fin(self) -> None:
        """A bare FIN: no more bytes from this side, no close_notify."""
        self.sock.shutdown(socket.SHUT_WR)

    # -- the handshake ----------------------------------------------------------------

    def handshake(self) -> None:
        """The whole handshake, this side's last flight flushed (TLS 1.3 servers: the
        session tickets too)."""
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self.flush()
                if not self.pull():
                    self.tls.do_handshake()  # raises: the handshake cannot finish
                    raise AssertionError("the handshake finished after the other side closed") from None
                continue
            break
        self.flush()

    def flight(self) -> bytes:
        """Start the handshake and return this side's first flight, unsent (a server
        first reads the ClientHello)."""
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                if self.outgoing.pending:
                    return self.outgoing.read()
                if not self.pull():
                    raise AssertionError("the other side closed before its first flight") from None
                continue
            raise AssertionError("the handshake finished in one flight")

    def first_flight(self, records: int | None = None) -> list[bytes]:
        """Send the first ``records`` records of this side's first flight (all of them
        by default), and nothing more of the handshake; returns the flight's records."""
        flight = records_of(self.flight())
        chosen = flight if records is None else flight[:records]
        self.send_raw(b"".join(chosen))
        return flight

    # -- application data ---------------------------------------------------------------

    def record(self, piece: bytes) -> bytes:
        """``piece`` encrypted: one record (several for a piece over RECORD_MAX)."""
        assert piece, "an empty write makes no record"
        written = self.tls.write(piece)
        assert written == len(piece)
        return self.outgoing.read()

    def send_records(self, pieces: Sequence[bytes], *, together: bool = True) -> None:
        """Each piece its own record; all in one sendall (``together``) or each record
        in its own sendall."""
        out = [self.record(p) for p in pieces if p]
        if together:
            self.send_raw(b"".join(out))
        else:
            for r in out:
                self.send_raw(r)

    def send_frames(self, wires: Sequence[bytes], layout: str = "per-frame") -> None:
        """Frames' wire bytes as records: ``per-frame`` (one record each),
        ``one-record`` (all of them in as few records as fit, one if <= 16 KiB),
        ``split`` (each frame in two records)."""
        if layout == "per-frame":
            pieces = list(wires)
        elif layout == "one-record":
            pieces = [b"".join(wires)]
        elif layout == "split":
            pieces = split_each(wires)
        else:
            raise ValueError(layout)
        self.send_records(pieces)

    # -- ends ---------------------------------------------------------------------------

    def close_notify(self) -> None:
        """close_notify out (SSL_shutdown once), not waiting for the other side's."""
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # the other side's close_notify has not come: it is not waited for
        self.flush()

    def alert(self) -> ssl.SSLError:
        """This side's OpenSSL sends a real fatal alert: fed a record that does not
        decrypt (an application_data record of 32 random bytes), it fails the
        connection with ``bad_record_mac``, written encrypted (TLS 1.3: the
        alert is an encrypted record; TLS 1.2: encrypted under the session's cipher).
        Returns the error this side's OpenSSL raised."""
        self.incoming.write(bytes([APPLICATION_DATA, 3, 3, 0, 32]) + random.Random(20).randbytes(32))
        try:
            self.tls.read(1)
        except ssl.SSLError as exc:
            self.alert_cause = exc
            self._broken = True
        else:
            raise AssertionError("OpenSSL decrypted a record of random bytes")
        data = self.outgoing.read()
        assert data, "OpenSSL wrote no alert"
        self.alert_records = records_of(data)
        self.send_raw(data)
        return self.alert_cause

    def plaintext_alert(self, description: int = 40) -> None:
        """A fatal alert written by hand (level 2, default handshake_failure),
        unencrypted: a valid record only before encryption starts."""
        self.send_raw(bytes([ALERT, 3, 3, 0, 2, 2, description]))

    def read_hello(self) -> None:
        """Read the other side's first bytes (its ClientHello), answer nothing."""
        if not self.pull():
            raise AssertionError("the other side closed before its first flight")

    def trickle(self, data: bytes, interval: float) -> None:
        """``data`` (ciphertext, a flight or a record) one byte per send(), ``interval``
        s apart: a peer that is never silent for long, and never done.  Stops early
        when the other side has closed."""
        for i in range(len(data)):
            try:
                self.send_raw(data[i : i + 1])
            except (BrokenPipeError, ConnectionResetError):
                return
            time.sleep(interval)

    def wait(self, event: threading.Event) -> None:
        """Send nothing until the test sets ``event``."""
        assert event.wait(IO_TIMEOUT), "the test did not set the event"

    def hold(self, timeout: float = IO_TIMEOUT) -> None:
        """Send nothing; read what comes until the other side closes (a FIN, a reset,
        or, once the handshake is done, its close_notify: an asyncio client's
        ``close()`` waits for the answer to its own).  What this side reads it drops.
        A client that waits on this peer stalls; the test ends the stall by closing
        it.  Raises TimeoutError after ``timeout`` s."""
        self.sock.settimeout(timeout)
        try:
            while True:
                try:
                    data = self.sock.recv(1 << 16)
                except ConnectionResetError:
                    return
                if not data:
                    return
                if self._close_notify_in(data):
                    return
        finally:
            self.sock.settimeout(IO_TIMEOUT)

    def _close_notify_in(self, data: bytes) -> bool:
        """Whether ``data`` ends in the other side's close_notify (read through the
        session while it is established and sound; else nothing is read of it)."""
        if self.tls.version() is None or self._broken:
            return False
        self.incoming.write(data)
        try:
            while self.tls.read(1 << 16):
                pass
            return True  # b"": its close_notify (SSLObject.read raises no SSLZeroReturnError for it)
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLZeroReturnError:
            return True
        except ssl.SSLError:
            self._broken = True
        return False

    def close(self) -> None:
        self.sock.close()


Script = Callable[[TLSPeer], Any]


def _with_context(peer_args: dict[str, Any]) -> dict[str, Any]:
    """The peer's arguments with its context made here, in the test's thread (a
    context that cannot be made fails the test, not the peer's thread)."""
    if peer_args.get("context") is None:
        server_side = peer_args.get("server_side", True)
        peer_args = {**peer_args, "context": certs.server_context() if server_side else certs.client_context()}
    return peer_args


def run(script: Script, sock: socket.socket, **peer_args: Any) -> Peer:
    """Run ``script`` in a thread on a connected socket; the socket is closed when it
    ends.  ``finish()`` returns what the script returned."""
    peer_args = _with_context(peer_args)

    def go() -> Any:
        tls = TLSPeer(sock, **peer_args)
        try:
            return script(tls)
        finally:
            tls.close()

    return peer(go)


class Server:
    """A listener whose one connection runs ``script``; ``address`` to connect to."""

    def __init__(self, script: Script, kind: str = "tcp4", **peer_args: Any) -> None:
        self._listener, self.address = listener(kind)
        self._listener.settimeout(IO_TIMEOUT)
        self._peer = peer(self._serve, script, _with_context(peer_args))

    def _serve(self, script: Script, peer_args: dict[str, Any]) -> Any:
        try:
            sock, _ = self._listener.accept()
        finally:
            self._listener.close()
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = TLSPeer(sock, **peer_args)
        try:
            return script(tls)
        finally:
            tls.close()

    def finish(self, timeout: float = IO_TIMEOUT) -> Any:
        return self._peer.finish(timeout)


@contextlib.contextmanager
def serve(script: Script, kind: str = "tcp4", **peer_args: Any) -> Iterator[Server]:
    """A ``Server`` for the block; on a clean exit its script must have ended
    without error (what it returned: ``server.finish()``)."""
    server = Server(script, kind, **peer_args)
    try:
        yield server
    except BaseException:
        # the test failed: let the script end (its socket closes), not hide the failure
        with contextlib.suppress(BaseException):
            server.finish()
        raise
    server.finish()


# -- the behaviours -------------------------------------------------------------------------

#: the frames every behaviour sends before its fault (LengthPrefixed(4) payloads)
FRAMES: tuple[bytes, ...] = (b"first", b"", b"x" * 300, bytes(range(256)), b"last")
WIRES = [frame(p) for p in FRAMES]
#: the frame a fault cuts short, and the parts of it sent before the fault
CUT = frame(b"an unfinished frame")
PARTIAL = CUT[:10]  # its header and 6 of its 19 body bytes
HEADER_PART = CUT[:2]  # half of its header

Step = Callable[[TLSPeer], Any]


def script(*steps: Step) -> Script:
    """The steps, one after the other; returns what the last one returned."""

    def play(p: TLSPeer) -> Any:
        result = None
        for step in steps:
            result = step(p)
        return result

    return play


def handshake(p: TLSPeer) -> None:
    p.handshake()


def fin(p: TLSPeer) -> None:
    p.fin()


def close_notify(p: TLSPeer) -> None:
    p.close_notify()


def alert(p: TLSPeer) -> ssl.SSLError:
    return p.alert()


def hold(p: TLSPeer) -> None:
    p.hold()


def read_hello(p: TLSPeer) -> None:
    p.read_hello()


def frames(layout: str = "per-frame", wires: Sequence[bytes] = WIRES) -> Step:
    return lambda p: p.send_frames(wires, layout)


def records(*pieces: bytes) -> Step:
    return lambda p: p.send_records(pieces)


def raw(data: bytes) -> Step:
    return lambda p: p.send_raw(data)


def first_flight(n: int | None = None) -> Step:
    return lambda p: p.first_flight(n)


def truncated_record(plaintext: bytes, keep: int) -> Step:
    """A record of ``plaintext`` of which only the first ``keep`` bytes of ciphertext
    are sent (its header and part of its body): a record the other side can never
    decrypt."""
    return lambda p: p.send_raw(p.record(plaintext)[:keep])


def pause(seconds: float) -> Step:
    """Silence for ``seconds`` (not waiting for anything)."""
    return lambda p: time.sleep(seconds)


def trickled_record(plaintext: bytes, interval: float) -> Step:
    return lambda p: p.trickle(p.record(plaintext), interval)


def trickled_flight(interval: float, nbytes: int) -> Step:
    """The first ``nbytes`` of this side's first flight, one byte per ``interval`` s."""
    return lambda p: p.trickle(p.flight()[:nbytes], interval)


def plaintext_alert(p: TLSPeer) -> None:
    p.plaintext_alert()


#: After a complete handshake (the peer the server): the frames, then the fault; the
#: peer then holds the connection open (reading) until the client closes it, so that
#: nothing but the fault itself can end the client's wait.
AFTER_HANDSHAKE: dict[str, Script] = {
    # a bare FIN: between frames, with the frames' records cut three ways
    "fin-between": script(handshake, frames(), fin, hold),
    "fin-between/one-record": script(handshake, frames("one-record"), fin, hold),
    "fin-between/split": script(handshake, frames("split"), fin, hold),
    # a bare FIN inside a frame: in its body, in its header
    "fin-inside-body": script(handshake, frames(), records(PARTIAL), fin, hold),
    "fin-inside-header": script(handshake, frames("one-record"), records(HEADER_PART), fin, hold),
    # a bare FIN inside a record (holding a whole frame, never decrypted): a ragged EOF
    "fin-inside-record": script(handshake, frames(), truncated_record(CUT, 12), fin, hold),
    # close_notify, then a FIN; and close_notify alone, the connection left open
    "close-notify-between": script(handshake, frames(), close_notify, fin, hold),
    "close-notify-between/open": script(handshake, frames(), close_notify, hold),
    "close-notify-inside": script(handshake, frames(), records(PARTIAL), close_notify, fin, hold),
    "close-notify-inside/open": script(handshake, frames("split"), records(PARTIAL), close_notify, hold),
    # a real fatal alert (bad_record_mac, encrypted), between frames and inside one
    "alert-between": script(handshake, frames(), alert, hold),
    "alert-inside": script(handshake, frames(), records(PARTIAL), alert, hold),
    # what is no record of this session
    "plaintext-alert": script(handshake, frames(), plaintext_alert, hold),
    "garbage": script(handshake, frames(), raw(GARBAGE), hold),
    "http-request": script(handshake, frames(), raw(HTTP_REQUEST), hold),
    # silence: after the handshake, after some frames inside a frame, one byte at a time
    "stall-after-handshake": script(handshake, hold),
    "stall-inside-frame": script(handshake, frames(), records(PARTIAL), hold),
    "trickle-inside-frame": script(handshake, frames(), trickled_record(CUT, 0.05), hold),
}

#: The handshake goes wrong (the peer the server).
BROKEN_HANDSHAKES: dict[str, Script] = {
    # accepts the TCP connection, says nothing
    "handshake-stalled": hold,
    # the first record of its flight (ServerHello), then silence, or a FIN
    "handshake-first-record/stall": script(first_flight(1), hold),
    "handshake-first-record/fin": script(first_flight(1), fin, hold),
    # reads the ClientHello, then a FIN
    "handshake-hello-read/fin": script(read_hello, fin, hold),
    # its flight, one byte every 50 ms for 2 s: never silent for as long as a timeout
    "handshake-trickled": script(trickled_flight(0.05, 40), hold),
}


def many_small_frames(count: int = 4000, size: int = 64) -> tuple[list[bytes], Script]:
    """``count`` frames of ``size``-byte payloads, packed into records of 16 KiB (a
    frame across each record boundary), all in one sendall; then the connection is
    held open: no FIN to wake a reader up.  Returns (payloads, script)."""
    payloads = [i.to_bytes(4, "big") * (size // 4) for i in range(count)]
    data = frames_wire(payloads)
    return payloads, script(handshake, records(*cut(data, RECORD_MAX)), hold)


def stall_then_resume(event: threading.Event) -> Script:
    """The frames and part of one more, silence until ``event`` is set, then the
    rest of that frame and a FIN."""
    return script(
        handshake, frames(), records(PARTIAL), lambda p: p.wait(event), records(CUT[len(PARTIAL) :]), fin, hold
    )
