"""SocketLoop: what FramedSocket does per frame and per system call, receiving
into its decoder and sending its queue, through the socket object's methods.
The API around it, written once for both cores, is fastframe/socket.py."""

from __future__ import annotations

import socket
import threading
from socket import socket as _Socket
from typing import TYPE_CHECKING, Any

from .. import _checks, _messages
from .._limits import LARGE_FRAME, RECV_SIZE
from .._reads import EXACTLY, FRAMES, UNTIL, UNTIL_EOF
from .._sending import parts_to_send, sequence
from .._waiting import Call
from ..errors import ConnectionClosed, IncompleteFrame
from .decode import NO_QUOTA, Decoder
from .encode import LengthPrefixedCodec
from .framings import DelimitedDecoder, FixedSizeDecoder, UntilEofDecoder

if TYPE_CHECKING:
    from collections.abc import Iterable

    from typing_extensions import Buffer

# what one receive system call gave
_GOT_EOF, _GOT_BYTES, _GOT_NOTHING = range(3)
# Sends never block in the kernel: a signal handler that raises right after a
# send was cut short would lose the count of bytes it sent.
_SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0) | getattr(socket, "MSG_DONTWAIT", 0)


class _Frames:
    """What ``for frame in fs`` iterates: the frames until a clean EOF (an
    object of its own, as in the compiled core)."""

    __slots__ = ("_loop",)

    def __init__(self, loop: SocketLoop) -> None:
        self._loop = loop

    def __iter__(self) -> _Frames:
        return self

    def __next__(self) -> bytes:
        # SocketLoop.recv()'s path, written out again: calling recv() from
        # here cost ~320 instructions a frame more (callgrind, 64-byte frames)
        loop = self._loop
        if loop._key is loop._framer and loop._sock is not None:
            token = loop._receiving
            try:
                token.pop()
            except IndexError:
                pass
            else:
                try:
                    ahead = loop._ahead
                    try:
                        frame: bytes | None = ahead.pop()
                    except IndexError:
                        frame = loop._next_run()
                    else:
                        if not ahead:
                            loop._dec.run_taken()
                finally:
                    token.append(True)
                if loop._closing is not None:
                    loop._finish_close()
                if frame is not None:
                    return frame
        return loop.__next__()


class SocketLoop:
    """FramedSocket's receive and send loops (the class fastframe.socket's
    FramedSocket adds its API to)."""

    __slots__ = (
        "_sock", "_tls", "_framer", "_codec", "_dec", "_ahead", "_kind", "_key", "_eof", "_receiving",
        "_sending", "_closing", "_out", "_out_pos", "_out_size",
    )

    def _open(self, sock: _Socket, framer: Any, codec: Any) -> None:
        """Start on ``sock`` (checked), framing with ``framer`` and its ``codec``."""
        self._out: list[Any] = []  # queued output, oldest first
        self._out_pos = 0  # bytes of _out[0] already sent
        self._out_size = 0  # bytes queued and not sent
        # one receiving and one sending call at a time (Python code can switch
        # threads between a test and a set, hence no flags).  A receiving call
        # takes the one item of _receiving (pop) and puts it back (append): each
        # atomic, and together a third of a Lock's acquire(False) and release(),
        # which every recv() pays
        self._receiving = [True]
        self._sending = threading.Lock()
        self._closing: _Socket | None = None  # closed by close(), still in use by a call
        self._eof = False
        self._set_framer(framer, codec)
        self._dec: Decoder = codec.decoder()
        # the frames of the decoder's run not yet returned, last first: recv()
        # pops them (see Decoder.cut_run)
        self._ahead: list[bytes] = []
        self._kind = FRAMES
        self._key: Any = framer  # the framer, or the raw read, that _dec decodes for
        self._tls: Any = None  # a TLS transport of fastframe._tls, once there is TLS
        self._sock: Any = sock  # the socket, or the TLS transport over it; None: closed

    def _use_tls(self, transport: Any) -> None:
        """Receive and send through ``transport`` (of fastframe._tls) from now on."""
        if not self._receiving or self._sending.locked():
            raise _messages.busy("receiving" if not self._receiving else "sending")
        self._check_open()
        self._tls = transport
        self._sock = transport

    def _take_in(self, data: Any) -> None:
        """Bytes an async front end received itself (over a fastframe._fed
        transport), held for the next cut."""
        if not self._receiving:
            raise _messages.busy("receiving")
        self._check_open()
        if data:
            self._dec.received(data if type(data) is bytes else memoryview(data).tobytes())

    def _set_framer(self, framer: Any, codec: Any) -> None:
        """Frame what follows with ``framer`` (checked) and ``codec``, its codec in this core."""
        if not self._receiving:  # which bytes the new framing would start at is a race
            raise _messages.busy("receiving")
        self._codec = codec
        self._framer = framer

    # -- receiving ------------------------------------------------------------

    def recv(self) -> bytes:
        """The next frame (``bytes``).

        :raises ConnectionClosed: if the peer closed the connection between
            frames (every later call raises it again)
        :raises IncompleteFrame: if the peer closed it inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing; every later
            call raises it again
        :raises TimeoutError: if the socket's timeout passed first; the bytes
            received stay buffered for the next call
        :raises BlockingIOError: if the socket is non-blocking and no frame is
            complete yet
        :raises RuntimeError: if another thread is receiving on this
            FramedSocket
        :raises ssl.SSLError: over TLS, for a TLS alert or a corrupt record,
            after every frame before it
        :raises OSError: if the connection fails (``ConnectionResetError``...),
            or with ``errno.EBADF`` if this FramedSocket is closed (by another
            thread during the call too)
        """
        # A frame whole among the held bytes is popped from the decoder's run
        # without _receive's machinery, or a Python call a frame.  (_key is the
        # framer only when frames are cut: a raw read's key is a number or a tuple.)
        if self._key is self._framer and self._sock is not None:
            token = self._receiving
            try:
                token.pop()
            except IndexError:  # another call receives: _one() says so
                pass
            else:
                try:
                    ahead = self._ahead
                    try:
                        frame: bytes | None = ahead.pop()
                    except IndexError:  # the run is done: the next one
                        frame = self._next_run()
                    else:
                        if not ahead:  # (its chunk is freed at once)
                            self._dec.run_taken()
                finally:
                    token.append(True)
                if self._closing is not None:  # close() in another thread meanwhile
                    self._finish_close()
                if frame is not None:
                    return frame
        return self._one(FRAMES, None)

    def _next_run(self) -> bytes | None:
        """The first frame of the decoder's next run (None if no frame is whole
        among the held bytes), for recv()'s and iteration's fast path."""
        ahead = self._ahead = self._dec.cut_run()
        if not ahead:
            return None
        frame = ahead.pop()
        if not ahead:
            self._dec.run_taken()
        return frame

    def recv_many(self, max_frames: int | None = None) -> list[bytes]:
        """Every complete frame, at most ``max_frames``; waits for one unless
        the socket is non-blocking (then ``[]`` when none is complete).  Frames
        come before errors: the call that meets bad input returns the frames
        before it, and the next call raises.

        :raises ConnectionClosed: if the peer closed the connection between
            frames (every later call raises it again)
        :raises IncompleteFrame: if the peer closed it inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing; every later
            call raises it again
        :raises TimeoutError: if the socket's timeout passed first; the bytes
            received stay buffered for the next call
        :raises TypeError: if ``max_frames`` is not None or an int
        :raises ValueError: if ``max_frames`` is below 1
        :raises RuntimeError: if another thread is receiving on this
            FramedSocket
        :raises ssl.SSLError: over TLS, for a TLS alert or a corrupt record,
            after every frame before it
        :raises OSError: if the connection fails (``ConnectionResetError``...),
            or with ``errno.EBADF`` if this FramedSocket is closed (by another
            thread during the call too)
        """
        limit = _checks.check_max_frames(max_frames)
        return self._receive(FRAMES, None, NO_QUOTA if limit is None else limit)

    def __iter__(self) -> _Frames:
        return _Frames(self)

    def __next__(self) -> bytes:
        try:
            return self._one(FRAMES, None)
        except IncompleteFrame:
            raise
        except ConnectionClosed:
            raise StopIteration from None

    def _read(self, kind: int, key: Any) -> bytes:
        """One raw read (a kind of fastframe._reads, its arguments checked)."""
        return self._one(kind, key)

    def _one(self, kind: int, key: Any) -> bytes:
        frames = self._receive(kind, key, 1)
        if not frames:
            raise _messages.no_frame_yet()
        return frames[0]

    def _receive(self, kind: int, key: Any, quota: int) -> list[bytes]:
        """Cut up to quota frames of this kind, receiving as the socket's mode
        allows until there is one ([] only on a non-blocking socket)."""
        self._check_open()
        token = self._receiving
        try:
            token.pop()
        except IndexError:
            raise _messages.busy("receiving") from None
        call = None
        try:
            while True:
                dec = self._dec
                if not self._fits(kind, key):
                    if dec.ready_to_hand_over(self._eof):
                        self._switch(kind, key)
                        continue
                else:
                    frames = dec.cut(quota)
                    if frames:
                        if self._tls is not None:
                            self._cut_held(dec, frames, quota)
                        return frames
                    if self._eof:
                        return self._at_eof(dec)
                if call is None:
                    call = Call(self._sock, self._tls is None)
                got = self._recv_into(dec, call)
                if self._sock is None:  # close() in another thread woke the call
                    raise _messages.closed()
                if got == _GOT_NOTHING:
                    return []
                if got == _GOT_EOF:
                    self._eof = True
        except OSError:
            if self._sock is None:  # the wake-up's error, not the connection's
                raise _messages.closed() from None
            raise
        finally:
            token.append(True)
            self._finish_close()

    def _fits(self, kind: int, key: Any) -> bool:
        """Whether the decoder is the one for this kind of read."""
        return self._kind == kind and (
            self._key is self._framer if kind == FRAMES else self._key == key
        )

    def _at_eof(self, dec: Decoder) -> list[bytes]:
        if self._kind == UNTIL_EOF:
            return [dec.detach()]
        frames = dec.eof()
        if not frames:
            raise _messages.connection_closed()
        return frames

    def _switch(self, kind: int, key: Any) -> None:
        """Decode what is buffered for a different kind of read."""
        dec: Decoder
        if kind == FRAMES:
            dec = self._codec.decoder()
            key = self._framer
        elif kind == EXACTLY:
            dec = FixedSizeDecoder(key)
        elif kind == UNTIL:
            dec = DelimitedDecoder(key[0], key[2], False, key[1])
        else:
            dec = UntilEofDecoder(key)
        dec.adopt(self._dec)
        self._dec = dec
        self._kind = kind
        self._key = key

    def _cut_held(self, dec: Decoder, frames: list[bytes], quota: int) -> None:
        """Add the frames of the decrypted bytes TLS holds: no readiness of the
        socket announces them, so a selectors loop would wait for them forever."""
        while len(frames) < quota and self._tls.held:
            data = self._tls.recv_held(RECV_SIZE)
            if not data:
                return
            dec.received(data)
            dec.cut_into(frames, quota)

    def _recv_into(self, dec: Decoder, call: Call) -> int:
        """One receive, handed to the decoder, waiting as the socket's mode says."""
        if self._sock is None:  # closed by another thread
            raise _messages.closed()
        data = call.attempt(False, call.sock.recv, RECV_SIZE)
        if data is None:
            return _GOT_NOTHING
        if not data:
            return _GOT_EOF
        dec.received(data)
        return _GOT_BYTES

    # -- sending --------------------------------------------------------------
    # send() and send_many() are here rather than with the API around them, as
    # in the compiled core, where they cost each frame sent less there.

    def send(self, payload: Buffer, *, head: Buffer | None = None) -> None:
        """Send ``payload`` as one frame (``head``: see ``LengthPrefixed.encode``).
        On a non-blocking socket what the socket does not take is queued.

        :raises TypeError: if ``payload`` is not bytes-like, or ``head`` is
            given to a framer other than ``LengthPrefixed``
        :raises BufferError: if ``payload`` is not contiguous in memory
        :raises ValueError: if the framer cannot carry ``payload`` or ``head``
            (see ``Framer.encode``); nothing is sent
        :raises FrameTooLarge: if the frame would exceed the framer's
            ``max_size``; nothing is sent
        :raises TimeoutError: if the socket's timeout passed first; what is not
            sent stays queued (``pending_output``) and goes out first
        :raises RuntimeError: if another thread is sending on this FramedSocket
        :raises OSError: if the connection fails (``BrokenPipeError`` after
            ``shutdown_write()`` too), or with ``errno.EBADF`` if this
            FramedSocket is closed
        """
        self._check_open()
        self._check_head(head)
        if _checks.nbytes(payload) >= LARGE_FRAME:
            self._write(self._affixed(payload, head))
        elif head is None:
            self._write([self._codec.encode(payload)])
        else:
            self._write([self._codec.encode(payload, head)])

    def send_many(self, payloads: Iterable[Buffer], *, head: Buffer | None = None) -> None:
        """Send every payload as a frame, in order; all are checked first.

        :raises TypeError: if ``payloads`` is not iterable, or one is not
            bytes-like, or ``head`` is given to a framer other than
            ``LengthPrefixed``
        :raises BufferError: if a payload is not contiguous in memory
        :raises ValueError: if the framer cannot carry a payload or ``head``
            (see ``Framer.encode``); nothing is sent
        :raises FrameTooLarge: if a frame would exceed the framer's
            ``max_size``; nothing is sent
        :raises TimeoutError: if the socket's timeout passed first; what is not
            sent stays queued (``pending_output``) and goes out first
        :raises RuntimeError: if another thread is sending on this FramedSocket
        :raises OSError: if the connection fails (``BrokenPipeError`` after
            ``shutdown_write()`` too), or with ``errno.EBADF`` if this
            FramedSocket is closed
        """
        self._check_open()
        self._check_head(head)
        seq = sequence(payloads)
        try:  # len() counts items, not bytes, for a few buffer types: they go the long way
            all_small = max(map(len, seq), default=0) < LARGE_FRAME
        except TypeError:
            all_small = False
        if all_small or not any(_checks.nbytes(p) >= LARGE_FRAME for p in seq):
            self._write([self._encode_many(seq, head)])
        else:
            self._write(parts_to_send(
                seq, lambda small: self._encode_many(small, head), lambda big: self._affixed(big, head)))

    def _check_head(self, head: Any) -> None:
        if head is not None and not isinstance(self._codec, LengthPrefixedCodec):
            raise _messages.head_needs_length_prefixed(self._framer)

    def _encode_many(self, payloads: Any, head: Any) -> bytes:
        if head is None:
            return self._codec.encode_many(payloads)  # type: ignore[no-any-return]
        return self._codec.encode_many(payloads, head)  # type: ignore[no-any-return]

    def _affixed(self, payload: Any, head: Any) -> list[Any]:
        """The frame of a big payload as [head, payload, tail]: sent uncopied."""
        if head is None:
            before, after = self._codec.affixes(payload)
        else:
            before, after = self._codec.affixes(payload, head)
        return [before, payload, after]

    def _write(self, parts: list[Any]) -> bool:
        """Queue parts behind what is queued and send, in order, what the socket
        takes; True when nothing is left queued."""
        if not self._sending.acquire(blocking=False):
            raise _messages.busy("sending")
        try:
            for part in parts:
                if type(part) is not bytes:
                    part = memoryview(part).cast("B")
                if len(part):
                    self._out.append(part)
                    self._out_size += len(part)
            sent_all = self._drain()
            if self._sock is None:  # close() in another thread emptied the queue
                raise _messages.closed()
            return sent_all
        except OSError:
            if self._sock is None:  # the wake-up's error, not the connection's
                raise _messages.closed() from None
            raise
        finally:
            self._own_queue()
            self._sending.release()
            self._finish_close()

    def _drain(self) -> bool:
        out = self._out
        call = None
        while out:
            if self._sock is None:  # closed by another thread
                raise _messages.closed()
            if call is None:
                call = Call(self._sock, self._tls is None)
            chunk = out[:64]
            if self._out_pos:
                chunk[0] = memoryview(chunk[0])[self._out_pos :]
            if hasattr(call.sock, "sendmsg"):
                sent = call.attempt(True, call.sock.sendmsg, chunk, (), _SEND_FLAGS)
            else:
                sent = call.attempt(True, call.sock.send, chunk[0])
            if self._sock is None:  # close() in another thread woke the call
                raise _messages.closed()
            if sent is None:
                return False
            self._advance(sent)
        return True

    def _advance(self, sent: int) -> None:
        self._out_size -= sent
        sent += self._out_pos
        out = self._out
        while sent:
            left = len(out[0])
            if sent < left:
                break
            sent -= left
            del out[0]
        self._out_pos = sent

    def _own_queue(self) -> None:
        """Queued views of the caller's buffers become bytes of our own: the
        caller may reuse its buffers once a call returns."""
        out = self._out
        for i, part in enumerate(out):
            if type(part) is not bytes:
                if i == 0:
                    out[0] = part[self._out_pos :].tobytes()
                    self._out_pos = 0
                else:
                    out[i] = part.tobytes()
                part.release()

    # -- the connection -------------------------------------------------------

    def close(self) -> None:
        """Close the socket (idempotent); queued output is dropped.  A call
        in another thread is woken and raises ``OSError(EBADF)``; the
        descriptor is closed once that call has returned.

        :raises OSError: only if the socket's own ``close()`` fails (its
            descriptor was closed behind its back)
        """
        sock = self._sock
        if sock is None:
            return
        # _closing is set before the calls are looked at: a call that ends in
        # between then closes the socket itself
        self._closing = sock
        self._sock = None
        del self._out[:]
        self._out_pos = self._out_size = 0
        if not self._receiving or self._sending.locked():
            # The call's system calls use the descriptor's number: closing it
            # now would let a socket opened meanwhile reuse that number under
            # the call, which would then read another connection's bytes.
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes it instead
            except OSError:
                pass
        else:
            self._finish_close()

    def _finish_close(self) -> None:
        """Close the socket a close() left to the calls in progress, once none is."""
        sock = self._closing
        if sock is not None and self._receiving and not self._sending.locked():
            self._closing = None
            sock.close()  # (two threads may both get here: closing twice is harmless)

    def _detach(self) -> tuple[Any, bytes]:
        """(the socket, every byte received and not returned); closed afterwards.
        Nothing may be queued."""
        if not self._receiving:
            raise _messages.busy("receiving")
        sock = self._check_open()
        held = self._dec.detach()
        self._sock = None
        return sock, held

    def _check_open(self) -> Any:
        if self._sock is None:
            raise _messages.closed()
        return self._sock
