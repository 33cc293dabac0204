"""asyncio integration: framed streams and a framed ``BufferedProtocol``.

``open_connection()`` / ``start_server()`` (and their Unix-socket twins) give a
``FramedReader`` and a ``FramedWriter``, the framed counterparts of asyncio's
``StreamReader`` and ``StreamWriter``.  ``FramedProtocol`` is the layer below:
subclass it and implement ``frame_received()``.

Bytes land in a read area that a thread's connections share
(``asyncio.BufferedProtocol``), or straight in a large frame's own bytes object;
every frame they complete is cut by the selected core in one call, and a
connection keeps only its unfinished frame between reads.  Works on the default
event loop and on uvloop.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import operator
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from . import _checks, _cores, _fed, _messages
from ._core import impl
from ._limits import DEFAULT_MAX_SIZE
from .errors import ConnectionClosed, FastframeError, FrameTooLarge, IncompleteFrame
from .framers import Framer, LengthPrefixed, check_framer

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Buffer

    from ._core_py import ReaderLoop as _ReaderLoop  # what the API adds to: a core's loop
else:
    _ReaderLoop = object

__all__ = [
    "DEFAULT_HIGH_WATER",
    "FramedProtocol",
    "FramedReader",
    "FramedWriter",
    "open_connection",
    "open_unix_connection",
    "start_server",
    "start_unix_server",
]

DEFAULT_HIGH_WATER = 256 * 1024
# What one read may bring.  The default event loop makes one recv_into() per
# loop iteration: a busy stream takes 4x fewer iterations than with 64 KiB.  The
# area is shared by a thread's connections (_ReadArea): its size costs nothing
# per connection.
READ_SIZE = 256 * 1024

_T = TypeVar("_T")
ClientConnected = Callable[["FramedReader", "FramedWriter"], Awaitable[None] | None]


class _Area:
    """Memory connections are read into, one connection at a time.

    An event loop reads a connection with get_buffer(), the read, then
    buffer_updated(), one after the other (asyncio, uvloop, and their TLS
    layers), so one area serves every connection of a thread's loop, and a
    connection keeps only its decoder's unfinished frame between reads (feed()
    copies no more)."""

    __slots__ = ("buf", "whole", "lent")

    def __init__(self) -> None:
        self.buf = bytearray(READ_SIZE)
        self.whole = memoryview(self.buf)  # what buffer_updated() decodes from
        # The view lent by get_buffer() whose buffer_updated() has not come.
        # While the transport that asked for it still holds it, the area is
        # not lent again: a loop that interleaved reads would write over bytes
        # not yet decoded, so the next connection gets a new area instead (and
        # the one lent lives on for its connection).  Once every holder has
        # dropped it (the read brought nothing, or failed, or the connection
        # was lost), nothing can write there any more.
        self.lent: weakref.ref[memoryview] | None = None


class _ReadArea(threading.local):
    """Each thread's area: loops in other threads, free-threaded ones
    included, never share it."""

    def __init__(self) -> None:
        self.area = _Area()


_read_area = _ReadArea()


class FramedProtocol(asyncio.BufferedProtocol):
    """An ``asyncio.BufferedProtocol`` that delivers whole frames.

    ``FramedProtocol(framer)``; subclasses implement ``frame_received(frame)``
    (or ``frames_received(frames)`` to take each batch at once).  The transport
    is ``self.transport`` once ``connection_made()`` has run.

    Bad input (``FrameTooLarge``, ``ProtocolError``, ``IncompleteFrame`` at EOF)
    goes to ``framing_error(exc)`` after every frame before it was delivered.

    :raises TypeError: if ``framer`` is not a fastframe framer
    """

    # What connection_made() was given: a stream connection's transport, which
    # has asyncio.Transport's methods (uvloop's too, without being its
    # subclass).  Typed as set: every callback a subclass implements runs after
    # connection_made(); before it (and in a protocol fed by hand) it is None.
    transport: asyncio.Transport

    def __init__(self, framer: Framer) -> None:
        check_framer(framer)
        self.framer = framer
        self.transport = None  # type: ignore[assignment]  # (see transport above)
        self._decoder = framer.decoder()
        # the area get_buffer() lent, and the view it lent, until buffer_updated()
        self._area: _Area | None = None
        self._lent: weakref.ref[memoryview] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        # A large frame is received straight into its own bytes object while
        # as much as the area holds is still to come: a smaller window would
        # make more reads (the default loop: one per loop iteration).
        window = self._large_window()
        if window is not None:
            self._area = self._lent = None
            return window
        area = _read_area.area
        lent = area.lent
        if lent is not None and lent is not self._lent and lent() is not None:
            area = _read_area.area = _Area()  # (see _Area.lent)
        view = memoryview(area.buf)
        self._lent = area.lent = weakref.ref(view)
        self._area = area
        return view

    def buffer_updated(self, nbytes: int) -> None:
        area = self._area
        if area is None:  # into the large frame (or no get_buffer(): the decoder says so)
            self._into_large_window(nbytes)
            return
        lent = self._lent
        self._area = self._lent = None
        try:
            if area.lent is not lent:
                raise RuntimeError(
                    "buffer_updated() after another connection's get_buffer() on this thread "
                    "had the view given dropped and its memory lent again: the bytes are lost"
                )
            if not 0 <= nbytes <= READ_SIZE:
                raise _messages.nbytes_out_of_range(READ_SIZE, nbytes)
            self._bytes_read(area.whole[:nbytes])
        finally:
            if area.lent is lent:
                area.lent = None

    def _large_window(self) -> memoryview | None:
        return self._decoder._large_buffer(READ_SIZE)

    def _into_large_window(self, nbytes: int) -> None:
        self._pump(False, self._decoder.buffer_updated, nbytes)

    def _bytes_read(self, data: memoryview) -> None:
        self._pump(False, self._decoder.feed, data)

    def eof_received(self) -> bool | None:
        """The peer has closed its side: deliver what is held; an unfinished
        frame goes to ``framing_error`` as ``IncompleteFrame``.  Returns None:
        the transport closes.

        :raises: nothing of its own; what ``frames_received()`` or
            ``framing_error()`` raises goes through
        """
        self._pump(True)
        return None

    def frames_received(self, frames: list[bytes]) -> None:
        """Every frame one read completed, in order: ``frame_received`` on each.

        :raises: nothing of its own; what ``frame_received()`` raises goes
            through (the frames after it are not delivered)
        """
        frame_received = self.frame_received
        for frame in frames:
            frame_received(frame)

    def frame_received(self, frame: bytes) -> None:
        """Called with each frame (``bytes``), in order.

        :raises NotImplementedError: unless a subclass implements it
        """
        raise NotImplementedError(f"{type(self).__name__} must implement frame_received()")

    def framing_error(self, exc: FastframeError) -> None:
        """The stream met bad input.  By default the connection is aborted.

        After ``FrameTooLarge`` the decoder skips that frame and goes on: override
        this and return to keep the connection.  ``ProtocolError`` is final:
        the stream cannot be resynchronised.

        :raises: nothing
        """
        if self.transport is not None:
            self.transport.abort()

    def _pump(
        self, at_eof: bool, decode: Callable[[Any], list[bytes]] | None = None, read: Any = None
    ) -> None:
        """Deliver the frames that ``decode(read)`` returns (the decoder taking
        in a read), or that the end of the stream leaves, then every frame and
        error held behind them."""
        dec = self._decoder
        while True:
            try:
                if decode is not None:
                    first, decode = decode, None
                    frames = first(read)
                elif at_eof:
                    frames = dec.eof()
                else:
                    frames = dec.feed(b"")
            except FastframeError as exc:
                self.framing_error(exc)
                # after FrameTooLarge the decoder goes on with the next frame,
                # if the connection does
                transport = self.transport
                if not (isinstance(exc, FrameTooLarge) and (transport is None or not transport.is_closing())):
                    return
            else:
                if not frames:
                    return
                self.frames_received(frames)
            # An error met after these frames is raised by the decoder's next
            # call: make that call now, so that it is reported without waiting
            # for more bytes (and frames held behind it come out after it).


class ReaderAPI(_ReaderLoop):
    """What FramedReader adds to a core's ReaderLoop, which returns the frames
    whole among the bytes received (``recv()``, ``async for``) without a
    coroutine of Python's on the compiled core; everything that waits is here.

    Beneath both is a FramedSocket loop of the framer's core over a
    fastframe._fed transport: the protocol hands it each read, and it cuts
    frames and raw reads, switches framers and raises errors as FramedSocket
    does, when a call asks."""

    def __init__(
        self,
        protocol: _StreamProtocol,
        framer: Framer,
        high_water: int = DEFAULT_HIGH_WATER,
        low_water: int | None = None,
    ) -> None:
        high_water, low_water = _water_marks(high_water, low_water)
        self._open(self._new_loop(framer), high_water, low_water)
        self._protocol = protocol
        self._lost: BaseException | None = None  # why the connection was lost: raised last
        # a call raised the end that leaves bytes unread: IncompleteFrame, or
        # why the connection was lost
        self._end_raised = False
        self._waiter: asyncio.Future[None] | None = None

    def _new_loop(self, framer: Framer) -> Any:
        """A FramedSocket loop of the framer's core over a new fastframe._fed transport."""
        self._fed = _fed.Fed()
        return _cores._framed_socket_class(framer._core)._over(self._fed, framer)

    def _restart(self) -> None:
        """Drop every byte held: the stream starts again (under TLS)."""
        self._open(self._new_loop(self._fs.framer), self._high, self._low)

    async def recv_many(self, max_frames: int | None = None) -> list[bytes]:
        """Every frame whole among the bytes received (at most ``max_frames``),
        waiting for one.  Frames come before errors: the call that meets bad
        input returns the frames before it, and the next call raises.

        :raises ConnectionClosed: if the stream ended between frames (every
            later call raises it again)
        :raises IncompleteFrame: if it ended inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing, or
            ``FramedWriter.start_tls()`` refused the bytes held; every later
            call raises it again
        :raises TypeError: if ``max_frames`` is not None or an int
        :raises ValueError: if ``max_frames`` is below 1
        :raises RuntimeError: if another task is already waiting on this reader
        :raises OSError: if the connection was lost to an error
            (``ConnectionResetError``, ``ssl.SSLError`` over TLS...): that
            error, once every byte before it is read, and again by every later
            call
        """
        while True:
            frames: list[bytes] = await self._read(self._fs.recv_many, max_frames)
            if frames:
                return frames
            await self._wait()

    async def recv_exactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes of the stream, unframed.

        :raises IncompleteFrame: if the stream ends after fewer than ``n``
            bytes (``partial`` holds them)
        :raises ConnectionClosed: if it ends before any byte
        :raises TypeError: if ``n`` is not an int
        :raises ValueError: if ``n`` is negative (or above ``sys.maxsize``)
        :raises FrameTooLarge: if the frames before met it and it is still
            to be raised (it comes first)
        :raises ProtocolError: if the frames before broke the framing, or
            ``FramedWriter.start_tls()`` refused the bytes held
        :raises RuntimeError: if another task is already waiting on this reader
        :raises OSError: if the connection was lost to an error
            (``ConnectionResetError``, ``ssl.SSLError`` over TLS...): that
            error, once every byte before it is read, and again by every later
            call
        """
        return await self._read(self._fs.recv_exactly, n)

    async def recv_until(self, delimiter: Buffer, *, keep: bool = False, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """The bytes up to ``delimiter`` (consumed; returned if ``keep``), unframed.

        :raises FrameTooLarge: if no ``delimiter`` comes within ``max_size``
            bytes (counted as returned), or the frames before met it and it is
            still to be raised (it comes first)
        :raises IncompleteFrame: if the stream ends before ``delimiter``
            (``partial`` holds the bytes received)
        :raises ConnectionClosed: if it ends before any byte
        :raises TypeError: if ``delimiter`` is not bytes-like, or ``max_size``
            is not an int
        :raises ValueError: if ``delimiter`` is empty, or ``max_size`` is below 1
        :raises ProtocolError: if the frames before broke the framing, or
            ``FramedWriter.start_tls()`` refused the bytes held
        :raises RuntimeError: if another task is already waiting on this reader
        :raises OSError: if the connection was lost to an error
            (``ConnectionResetError``, ``ssl.SSLError`` over TLS...): that
            error, once every byte before it is read, and again by every later
            call
        """
        return await self._read(self._fs.recv_until, delimiter, keep=keep, max_size=max_size)

    async def recv_until_eof(self, *, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """Every byte until the peer closes its side (``b""`` if none), unframed.

        :raises FrameTooLarge: if more than ``max_size`` bytes come before the
            end, or the frames before met it and it is still to be raised (it
            comes first)
        :raises TypeError: if ``max_size`` is not an int
        :raises ValueError: if ``max_size`` is below 1
        :raises ProtocolError: if the frames before broke the framing, or
            ``FramedWriter.start_tls()`` refused the bytes held
        :raises RuntimeError: if another task is already waiting on this reader
        :raises OSError: if the connection was lost to an error
            (``ConnectionResetError``, ``ssl.SSLError`` over TLS...): that
            error, once every byte before it is read, and again by every later
            call
        """
        return await self._read(self._fs.recv_until_eof, max_size=max_size)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    def at_eof(self) -> bool:
        """Whether the peer has closed its side and every byte has been read.

        :raises: nothing
        """
        ended = self._fed.ended or self._lost is not None
        return ended and (self._end_raised or not self._fs.buffered)

    @property
    def framer(self) -> Framer:
        """The framer; assign another to frame what follows differently, from
        the next frame not yet returned.

        :raises TypeError: on assignment, if the value is not a fastframe framer
        """
        return self._fs.framer

    @framer.setter
    def framer(self, framer: Framer) -> None:
        self._fs.framer = framer

    async def _recv_slow(self, iterating: bool) -> bytes:
        """``recv()`` (``__anext__()``: ``iterating``) when no frame is whole
        among the bytes held."""
        try:
            return await self._read(self._fs.recv)
        except IncompleteFrame:
            raise
        except ConnectionClosed:
            if iterating:
                raise StopAsyncIteration from None
            raise

    async def _read(self, read: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """What the loop's ``read`` gives, waiting for bytes until it can."""
        while True:
            try:
                data = read(*args, **kwargs)
            except BlockingIOError:
                await self._wait()
                continue
            except IncompleteFrame:
                self._end_raised = True
                raise
            self._maybe_resume()
            return data

    async def _wait(self) -> None:
        """Until more bytes (or the end) come; raises why the connection was
        lost instead, once every byte before it has been read."""
        if self._lost is not None:
            self._end_raised = True
            raise _fresh(self._lost)  # and again by each later call
        if self._waiter is not None:
            raise RuntimeError("another task is already waiting for a frame on this reader")
        if self._paused:  # what is held is not enough: a frame bigger than high_water
            self._paused = False
            self._protocol._resume_reading()
        self._idle()
        self._waiter = self._protocol._loop.create_future()
        self._hungry = True
        try:
            await self._waiter
        finally:
            self._waiter = None
            self._hungry = False

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
            self._hungry = False  # fed: what comes before the call runs may pause reading

    # -- called by the protocol -------------------------------------------------

    def _lose(self, exc: BaseException) -> None:
        self._lost = exc.with_traceback(None)
        self._wake()

    def _feed_eof(self) -> None:
        self._fed.feed_eof()
        self._wake()

    def _pause(self) -> None:
        self._paused = True
        self._protocol._pause_reading()

    def _maybe_resume(self) -> None:
        if self._paused and self._fs.buffered <= self._low:
            self._paused = False
            self._protocol._resume_reading()


class FramedReader(ReaderAPI, impl.ReaderLoop):
    """Receives the frames of one connection (made by ``open_connection`` or
    ``start_server``).

    ``recv()`` returns the next frame, ``recv_many()`` every frame received so
    far, and ``async for frame in reader`` iterates until the peer closes the
    connection between frames.  A clean EOF raises ``ConnectionClosed``; EOF
    inside a frame ``IncompleteFrame``.  Bad input raises from the call that
    reaches it, after every frame before it.  Cancelling a waiting call loses
    nothing.

    The raw reads (``recv_exactly``, ``recv_until``, ``recv_until_eof``) and
    an assigned ``framer`` take the bytes from the next frame not yet returned,
    as on FramedSocket.

    Flow control: once the bytes received and not yet returned are more than
    ``high_water``, the transport stops reading until they are ``low_water`` or
    less (or a call needs more of them: a frame bigger than ``high_water``).
    """


@functools.cache
def _reader_class(core: ModuleType) -> type[ReaderAPI]:
    """The selected core's FramedReader is the one above; another core's (a
    framer bound to it: tests and benchmarks) is the same API on that core's loop."""
    if core is impl:
        return FramedReader

    class FramedReader_(ReaderAPI, core.ReaderLoop):  # type: ignore[misc, name-defined]
        __doc__ = FramedReader.__doc__

    FramedReader_.__name__ = FramedReader_.__qualname__ = "FramedReader"
    return FramedReader_


class _StreamProtocol(FramedProtocol):
    """The protocol under a FramedReader / FramedWriter pair: it hands each
    read to the reader, which cuts frames when its calls ask."""

    def __init__(
        self,
        framer: Framer,
        client_connected_cb: ClientConnected | None = None,
        *,
        high_water: int = DEFAULT_HIGH_WATER,
        low_water: int | None = None,
    ) -> None:
        super().__init__(framer)
        self._loop = asyncio.get_running_loop()
        # The reader and the writer hold this protocol, and it holds them
        # weakly: a finished connection (its buffers, an IncompleteFrame's
        # bytes) is freed as soon as they are dropped, not when the garbage
        # collector next finds the cycle.  Until they are claimed (by the
        # callback, or open_connection) it holds them itself.
        reader = _reader_class(framer._core)(self, framer, high_water, low_water)
        self._reader = weakref.ref(reader)
        self._unclaimed: list[Any] = [reader]
        self._stream_transport: asyncio.Transport | None = None
        self._client_connected_cb = client_connected_cb
        # start_tls() takes the TLS server's side on connections start_server accepted
        self._server_side = client_connected_cb is not None
        # whether the transport speaks TLS, known once connected: a TLS
        # transport closed twice (asyncio's) can no longer tell
        self._tls = False
        self._taking = True  # False once the writer has closed a TLS connection
        self._task: asyncio.Task[None] | None = None
        self._closed = self._loop.create_future()
        self._lost: BaseException | None = None
        self._connection_lost = False
        self._closed_here = False  # by the writer: the reader has ended, saying so
        self._writing_paused = False
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._stream_transport = self.transport
        self._tls = transport.get_extra_info("sslcontext") is not None
        self._unclaimed.append(FramedWriter(self.transport, self))
        cb = self._client_connected_cb
        if cb is not None:
            self._client_connected_cb = None
            result = cb(*self._claim())
            if asyncio.iscoroutine(result):
                self._task = self._loop.create_task(result)
                self._task.add_done_callback(self._client_done)

    def _claim(self) -> tuple[FramedReader, FramedWriter]:
        """The reader and the writer, handed over: from now on whoever uses
        them keeps them."""
        reader, writer = self._unclaimed
        self._unclaimed = []
        return reader, writer

    def _client_done(self, task: asyncio.Task[None]) -> None:
        self._task = None
        transport = self._stream_transport  # None once the connection is lost
        if task.cancelled():
            if transport is not None:
                transport.close()
            return
        exc = task.exception()
        if exc is not None:
            self._loop.call_exception_handler(
                {
                    "message": "Unhandled exception in client_connected_cb",
                    "exception": exc,
                    "transport": transport,
                }
            )
            if transport is not None:
                transport.close()

    def buffer_updated(self, nbytes: int) -> None:
        if self._taking:
            super().buffer_updated(nbytes)

    def _large_window(self) -> memoryview | None:
        return None  # the reader's loop cuts when asked: every read goes to the area

    def _bytes_read(self, data: memoryview) -> None:
        reader = self._reader()
        if reader is not None:
            reader._received(data)

    def eof_received(self) -> bool:
        self._end(None)
        # True keeps the writer open (half-close).  A TLS transport closes
        # whatever this returns, and asyncio and uvloop log a warning for True.
        return not self._tls

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._connection_lost:  # start_tls() already ended it (see _tls_failed)
            return
        self._connection_lost = True
        reader = self._reader()
        if reader is not None and not reader._fed.ended:  # closed on this side, or lost: no more bytes
            self._end(exc)
        self._lost = exc
        for waiter in self._drain_waiters:
            if not waiter.done():
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)
        if not self._closed.done():
            self._closed.set_result(None)
        # A TLS transport's protocol keeps this one (asyncio's and uvloop's hold
        # its bound methods): holding the transport would make a cycle.
        self.transport = self._stream_transport = None  # type: ignore[assignment]  # (the reader and writer are done with it)

    # -- flow control ------------------------------------------------------------

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _drain_helper(self) -> None:
        if self._connection_lost:
            raise ConnectionResetError("the connection is lost") from self._lost
        if not self._writing_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            self._drain_waiters.remove(waiter)

    def _pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _close_here(self) -> None:
        """The writer closes the connection: the reader ends now (no more bytes
        are taken), saying that this side closed it, unless it has already
        ended.  The peer's end would be ConnectionClosed: it may not have come."""
        self._closed_here = True
        reader = self._reader()
        if reader is not None and not reader._fed.ended and reader._lost is None:
            reader._lose(_messages.closed_here())

    def _end(self, exc: BaseException | None) -> None:
        """No more bytes will come (``exc``: the connection was lost, and an
        unfinished frame with it), unless the writer has closed the connection,
        which ended the reader already (_close_here)."""
        reader = self._reader()
        if reader is None or self._closed_here:
            return
        if exc is not None:
            reader._lose(exc)
        else:
            reader._feed_eof()

    # -- TLS -----------------------------------------------------------------------

    def _closing_tls(self) -> None:
        """The writer closes a TLS connection (the reader has ended:
        _close_here).  Its transport goes on reading until the peer's
        close_notify comes, and only then (or at its ssl_shutdown_timeout) calls
        connection_lost(): as at a plain transport's close, nothing received
        after it is taken (it would come after the end, or before an error
        still unread)."""
        self._taking = False
        transport = self.transport
        assert transport is not None  # (the writer checked it is open)
        if not transport.is_reading():
            # asyncio's TLS transport, given the peer's EOF while reading was
            # paused, waits for reading to resume before it can close
            transport.resume_reading()

    def _refuse_plaintext(self) -> None:
        """Before the TLS handshake: raise ProtocolError, with the connection
        aborted, if frames received, or part of one, have not been returned."""
        reader = self._reader()
        if reader is None:
            return
        held = reader._fs.buffered
        if not held:
            # the TLS stream starts at a frame boundary: no state of the
            # plaintext loop (a frame being skipped) may carry over
            reader._restart()
            return
        exc = _messages.plaintext_before_tls(held)
        reader._restart()  # what arrived in plaintext goes, unread, never to be decoded
        reader._lose(exc)
        assert self.transport is not None  # (the writer checked it is open)
        self.transport.abort()
        raise exc

    def _tls_started(self, transport: asyncio.Transport) -> None:
        self.transport = self._stream_transport = transport
        self._tls = True

    def _tls_failed(self, exc: BaseException) -> None:
        """The handshake failed or was cancelled and the loop closed the
        connection; it tells this protocol so only in some of those cases
        (asyncio: not when cancelled)."""
        if not isinstance(exc, Exception):
            # the CancelledError is the caller's: the reader says what it meant
            exc = ConnectionAbortedError("the TLS handshake did not finish")
        self.connection_lost(exc)


class FramedWriter:
    """Sends frames on one connection (made by ``open_connection`` or
    ``start_server``).  ``send``/``send_many``/``sendall`` buffer in the
    transport; ``await drain()`` waits while that buffer is above its high-water
    mark."""

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._framer = protocol.framer
        codec = protocol.framer._codec
        self._encode = codec.encode
        self._encode_many = codec.encode_many
        self._takes_head = isinstance(protocol.framer, LengthPrefixed)
        self._closed = False  # by close()

    @property
    def transport(self) -> asyncio.Transport:
        """The asyncio transport the frames are written to."""
        return self._transport

    @property
    def framer(self) -> Framer:
        """The framer that encodes what ``send`` and ``send_many`` write."""
        return self._framer

    def send(self, payload: Buffer, *, head: Buffer | None = None) -> None:
        """Send ``payload`` as one frame (``head``: see ``LengthPrefixed.encode``).

        :raises RuntimeError: if this writer was closed (``close()``,
            ``abort()``)
        :raises ConnectionResetError: if the connection is lost (the error it
            was lost with is the cause)
        :raises TypeError: if ``payload`` is not bytes-like, or ``head`` is
            given to a framer other than ``LengthPrefixed``
        :raises BufferError: if ``payload`` is not contiguous in memory
        :raises ValueError: if the framer cannot carry ``payload`` or ``head``
            (see ``Framer.encode``); nothing is sent
        :raises FrameTooLarge: if the frame would exceed the framer's
            ``max_size``; nothing is sent
        """
        self._check_writable()
        if head is None:
            self._transport.write(self._encode(payload))
        else:
            self._check_head()
            self._transport.write(self._encode(payload, head))

    def send_many(self, payloads: Iterable[Buffer], *, head: Buffer | None = None) -> None:
        """Send every payload as a frame, in order, in one write.

        :raises RuntimeError: if this writer was closed (``close()``,
            ``abort()``)
        :raises ConnectionResetError: if the connection is lost (the error it
            was lost with is the cause)
        :raises TypeError: if ``payloads`` is not iterable, or one is not
            bytes-like, or ``head`` is given to a framer other than
            ``LengthPrefixed``
        :raises BufferError: if a payload is not contiguous in memory
        :raises ValueError: if the framer cannot carry a payload or ``head``
            (see ``Framer.encode``); nothing is sent
        :raises FrameTooLarge: if a frame would exceed the framer's
            ``max_size``; nothing is sent
        """
        self._check_writable()
        if head is None:
            data = self._encode_many(payloads)
        else:
            self._check_head()
            data = self._encode_many(payloads, head)
        self._transport.write(data)

    def sendall(self, data: Buffer) -> None:
        """Send raw bytes, unframed, in order with the frames.

        :raises RuntimeError: if this writer was closed (``close()``,
            ``abort()``)
        :raises ConnectionResetError: if the connection is lost (the error it
            was lost with is the cause)
        :raises TypeError: if ``data`` is not a contiguous bytes-like object
        """
        self._check_writable()
        if not isinstance(data, (bytes, bytearray)):
            # transports take only bytes, bytearray and memoryview, and count a
            # memoryview's items, not its bytes
            data = _checks.byte_view(data).cast("B")
        self._transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark;
        raises if the connection is lost.

        :raises ConnectionResetError: if the connection is lost (the error it
            was lost with is the cause)
        :raises OSError: if the connection is lost to an error while this
            waits: that error (``ssl.SSLError`` over TLS...)
        """
        if self._transport.is_closing():
            # give connection_lost() its turn, so that the error it brings is raised
            await asyncio.sleep(0)
        await self._protocol._drain_helper()

    def can_write_eof(self) -> bool:
        """Whether ``write_eof()`` is possible (not on TLS, for one).

        :raises: nothing
        """
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        """Half-close: the peer sees EOF after what was sent; the reader keeps reading.

        Not over TLS: asyncio's and uvloop's TLS transports send close_notify
        only from ``close()``, which also stops reading; this raises
        ``NotImplementedError`` saying so.

        :raises NotImplementedError: over TLS
        :raises OSError: if the socket's half-close fails (the connection is
            gone)
        """
        if self._protocol._tls:
            raise _messages.tls_cannot_half_close()
        self._transport.write_eof()

    async def start_tls(
        self,
        sslcontext: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
    ) -> None:
        """Upgrade the connection to TLS in place (STARTTLS), as
        ``asyncio.StreamWriter.start_tls`` does: a connection accepted by
        ``start_server`` takes the TLS server's side, any other the client's.
        Output is drained first; then the reader and this writer go on over TLS.

        Refused with ``ProtocolError`` when anything received before the switch
        is still unread (frames not yet returned, part of a frame): those bytes
        came unprotected and must not be read as if they had come over TLS
        (STARTTLS injection: CVE-2021-23214, CVE-2011-0411).  The connection is
        then aborted, and the reader raises that error instead of returning them.
        If the handshake fails, its error is raised here and by the reader.

        :raises ProtocolError: if bytes received are still unread; the
            connection is aborted
        :raises ssl.SSLError: if the handshake fails
            (``ssl.SSLCertVerificationError`` for the peer's certificate)
        :raises ConnectionAbortedError: if the handshake takes longer than
            ``ssl_handshake_timeout``
        :raises TypeError: if ``sslcontext`` is not an ``ssl.SSLContext``
        :raises RuntimeError: if this writer was closed (``close()``,
            ``abort()``)
        :raises ConnectionResetError: if the connection is lost (the error it
            was lost with is the cause)
        """
        self._check_writable()
        await self.drain()
        self._check_writable()
        protocol = self._protocol
        # no await between this check and start_tls() pausing the transport:
        # nothing can arrive in between
        protocol._refuse_plaintext()
        try:
            transport = await protocol._loop.start_tls(
                self._transport,
                protocol,
                sslcontext,
                server_side=protocol._server_side,
                server_hostname=server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
            )
        except BaseException as exc:
            if self._transport.is_closing():  # else refused before anything changed
                protocol._tls_failed(exc)
            raise
        assert transport is not None  # typeshed allows None; asyncio and uvloop never return it
        self._transport = transport
        protocol._tls_started(transport)

    def close(self) -> None:
        """Close the connection (buffered output is still sent).

        :raises: nothing
        """
        self._closed = True
        transport = self._transport
        if transport.is_closing():  # asyncio's TLS transport, closed twice, drops its state
            return
        self._protocol._close_here()
        if self._protocol._tls:
            self._protocol._closing_tls()
        transport.close()

    def abort(self) -> None:
        """Close the connection at once, dropping buffered output.

        :raises: nothing
        """
        self._closed = True
        self._protocol._close_here()
        self._transport.abort()

    def is_closing(self) -> bool:
        """True once the connection is closing or closed.

        :raises: nothing
        """
        return self._transport.is_closing()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed.

        :raises: nothing
        """
        await self._protocol._closed

    # Any: what the transport gives (asyncio.BaseTransport.get_extra_info's types)
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's information: ``"peername"``, ``"socket"``, ``"sslcontext"``...

        :raises: nothing
        """
        return self._transport.get_extra_info(name, default)

    def _check_writable(self) -> None:
        if self._closed:
            raise RuntimeError("the writer is closed")
        if self._transport.is_closing():
            raise ConnectionResetError("the connection is lost") from self._protocol._lost

    def _check_head(self) -> None:
        if not self._takes_head:
            raise _messages.head_needs_length_prefixed(self._framer)

    def __repr__(self) -> str:
        return f"<FramedWriter transport={self._transport!r} framer={self._framer!r}>"


# -- making connections and servers ----------------------------------------------


def _factory(
    framer: Framer | None, cb: ClientConnected | None, high_water: int, low_water: int | None
) -> Callable[[], _StreamProtocol]:
    """What makes each connection's protocol; the arguments are checked now,
    not at the first connection."""
    if framer is None:
        raise TypeError("a framer is required (framer=fastframe.LengthPrefixed(4), ...)")
    check_framer(framer)
    _water_marks(high_water, low_water)
    return lambda: _StreamProtocol(framer, cb, high_water=high_water, low_water=low_water)


# Each function takes the framer after the address, as asyncio's take theirs,
# or by keyword when the address is left out (sock=...): its default of None is
# refused at run time, and the overloads make leaving it out a type error.  The
# other keywords (Any) go to the event loop's function, as asyncio's do.
@overload
async def open_connection(
    host: str | None,
    port: int | str | None,
    framer: Framer,
    *,
    high_water: int = ...,
    low_water: int | None = ...,
    **kwds: Any,
) -> tuple[FramedReader, FramedWriter]: ...
@overload
async def open_connection(
    host: str | None = None,
    port: int | str | None = None,
    *,
    framer: Framer,
    high_water: int = ...,
    low_water: int | None = ...,
    **kwds: Any,
) -> tuple[FramedReader, FramedWriter]: ...
async def open_connection(
    host: str | None = None,
    port: int | str | None = None,
    framer: Framer | None = None,
    *,
    high_water: int = DEFAULT_HIGH_WATER,
    low_water: int | None = None,
    **kwds: Any,
) -> tuple[FramedReader, FramedWriter]:
    """Connect over TCP (other arguments: ``loop.create_connection``, e.g.
    ``sock=``) and return a ``(FramedReader, FramedWriter)`` pair.

    :raises TypeError: if ``framer`` is missing or not a fastframe framer, or
        a water mark is not an int
    :raises ValueError: unless ``0 <= low_water <= high_water``
    :raises OSError: if the connection fails, as ``loop.create_connection()``
        says (``ConnectionRefusedError``, ``socket.gaierror``...)
    :raises ssl.SSLError: with ``ssl=``, if the TLS handshake fails
        (``ssl.SSLCertVerificationError`` for the server's certificate)
    """
    loop = asyncio.get_running_loop()
    factory = _factory(framer, None, high_water, low_water)
    # asyncio also takes port names and, with sock=, no host or port: typeshed's
    # overloads split those cases
    _, protocol = await loop.create_connection(factory, host, port, **kwds)  # type: ignore[arg-type]
    return protocol._claim()


@overload
async def open_unix_connection(
    path: str | None, framer: Framer, *, high_water: int = ..., low_water: int | None = ..., **kwds: Any
) -> tuple[FramedReader, FramedWriter]: ...
@overload
async def open_unix_connection(
    path: str | None = None, *, framer: Framer, high_water: int = ..., low_water: int | None = ..., **kwds: Any
) -> tuple[FramedReader, FramedWriter]: ...
async def open_unix_connection(
    path: str | None = None,
    framer: Framer | None = None,
    *,
    high_water: int = DEFAULT_HIGH_WATER,
    low_water: int | None = None,
    **kwds: Any,
) -> tuple[FramedReader, FramedWriter]:
    """``open_connection`` over a Unix socket.

    :raises TypeError: if ``framer`` is missing or not a fastframe framer, or
        a water mark is not an int
    :raises ValueError: unless ``0 <= low_water <= high_water``
    :raises OSError: if the connection fails, as
        ``loop.create_unix_connection()`` says (``FileNotFoundError``,
        ``ConnectionRefusedError``...)
    :raises ssl.SSLError: with ``ssl=``, if the TLS handshake fails
        (``ssl.SSLCertVerificationError`` for the server's certificate)
    """
    loop = asyncio.get_running_loop()
    factory = _factory(framer, None, high_water, low_water)
    try:
        _, protocol = await loop.create_unix_connection(factory, path, **kwds)
    except FileNotFoundError as exc:
        if path is None or exc.filename is not None:  # not the event loop's word on the path
            raise
        raise _messages.no_unix_socket(path, "use open_connection({host!r}, {port}, framer)") from None
    return protocol._claim()


@overload
async def start_server(
    client_connected_cb: ClientConnected,
    host: str | None,
    port: int | str | None,
    framer: Framer,
    *,
    high_water: int = ...,
    low_water: int | None = ...,
    **kwds: Any,
) -> asyncio.Server: ...
@overload
async def start_server(
    client_connected_cb: ClientConnected,
    host: str | None = None,
    port: int | str | None = None,
    *,
    framer: Framer,
    high_water: int = ...,
    low_water: int | None = ...,
    **kwds: Any,
) -> asyncio.Server: ...
async def start_server(
    client_connected_cb: ClientConnected,
    host: str | None = None,
    port: int | str | None = None,
    framer: Framer | None = None,
    *,
    high_water: int = DEFAULT_HIGH_WATER,
    low_water: int | None = None,
    **kwds: Any,
) -> asyncio.Server:
    """Serve TCP: ``client_connected_cb(reader, writer)`` (a plain function or a
    coroutine function) runs for each connection.  Returns an ``asyncio.Server``.

    :raises TypeError: if ``framer`` is missing or not a fastframe framer, or
        a water mark is not an int
    :raises ValueError: unless ``0 <= low_water <= high_water``
    :raises OSError: if the server cannot listen, as ``loop.create_server()``
        says (``errno.EADDRINUSE``: the address is in use...)
    """
    loop = asyncio.get_running_loop()
    factory = _factory(framer, client_connected_cb, high_water, low_water)
    return await loop.create_server(factory, host, port, **kwds)  # type: ignore[arg-type]


@overload
async def start_unix_server(
    client_connected_cb: ClientConnected,
    path: str | None,
    framer: Framer,
    *,
    high_water: int = ...,
    low_water: int | None = ...,
    **kwds: Any,
) -> asyncio.Server: ...
@overload
async def start_unix_server(
    client_connected_cb: ClientConnected,
    path: str | None = None,
    *,
    framer: Framer,
    high_water: int = ...,
    low_water: int | None = ...,
    **kwds: Any,
) -> asyncio.Server: ...
async def start_unix_server(
    client_connected_cb: ClientConnected,
    path: str | None = None,
    framer: Framer | None = None,
    *,
    high_water: int = DEFAULT_HIGH_WATER,
    low_water: int | None = None,
    **kwds: Any,
) -> asyncio.Server:
    """``start_server`` on a Unix socket.

    :raises TypeError: if ``framer`` is missing or not a fastframe framer, or
        a water mark is not an int
    :raises ValueError: unless ``0 <= low_water <= high_water``
    :raises OSError: if the server cannot listen, as
        ``loop.create_unix_server()`` says (``errno.EADDRINUSE``: the path is
        in use...)
    """
    loop = asyncio.get_running_loop()
    factory = _factory(framer, client_connected_cb, high_water, low_water)
    return await loop.create_unix_server(factory, path, **kwds)


def _fresh(exc: BaseException) -> BaseException:
    """A new exception like ``exc``, to raise it again.  Raising ``exc`` itself
    would give it a traceback through the reader that keeps it: a reference
    cycle holding the connection until the garbage collector runs."""
    try:
        fresh = type(exc)(*exc.args)
    except Exception:  # a constructor that does not take its args back
        return exc.with_traceback(None)
    fresh.__cause__ = exc.__cause__
    # what is set outside args: ssl.SSLError's reason and library,
    # SSLCertVerificationError's verify_code and verify_message
    fresh.__dict__.update(exc.__dict__)
    return fresh


def _water_marks(high_water: int, low_water: int | None) -> tuple[int, int]:
    high_water = operator.index(high_water)
    low_water = high_water // 4 if low_water is None else operator.index(low_water)
    if not 0 <= low_water <= high_water:
        raise ValueError(
            f"need 0 <= low_water <= high_water, got low_water={low_water}, "
            f"high_water={high_water}"
        )
    return high_water, low_water

