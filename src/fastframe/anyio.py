"""Framed streams for anyio: on its asyncio backend (and uvloop) and on trio.

``FramedStream(byte_stream, framer)`` is an ``anyio.abc.ObjectStream[bytes]`` over
any anyio byte stream (``SocketStream``, ``TLSStream``, a stapled pair...):
``receive()`` returns the next frame, ``send(payload)`` sends one.  Beneath it is a
``FramedSocket`` loop of the framer's core that the stream feeds
(fastframe._fed): every receive, raw read (``receive_exactly``,
``receive_until``, ``receive_until_eof``), framer switch, limit and error is
FramedSocket's, with anyio's names for the end of the stream:

- a clean end of the stream between frames raises ``anyio.EndOfStream`` (and
  ends ``async for``); inside a frame ``fastframe.IncompleteFrame``;
- a cancelled receive loses nothing: bytes are taken from the stream only
  between two awaits, where no cancellation can fall;
- a send cancelled part-way leaves the stream broken: every later send raises
  ``anyio.BrokenResourceError`` (the peer may have a frame's first bytes only);
- what is held is one read of the stream (64 KiB) and the unfinished frame.

Install it with ``pip install "fastframe[anyio]"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

try:
    import anyio
    import anyio.lowlevel
    from anyio.abc import ByteStream, ObjectStream
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        f'fastframe.anyio needs anyio, which cannot be imported ({exc}): pip install "fastframe[anyio]"'
    ) from exc

from . import _cores, _fed, _messages
from ._limits import DEFAULT_MAX_SIZE
from .errors import ConnectionClosed, IncompleteFrame
from .framers import Framer, check_framer

if TYPE_CHECKING:
    import ssl
    from os import PathLike

    from typing_extensions import Buffer

__all__ = ["FramedStream", "connect_tcp", "connect_unix"]

_T = TypeVar("_T")

# What one receive asks of the byte stream: anyio's own default, and below the
# size where an allocator maps and unmaps memory for each bytes object.
READ_SIZE = 65536


class FramedStream(ObjectStream[bytes]):
    """Frames over an anyio byte stream (see the module).

    :raises TypeError: if ``framer`` is not a fastframe framer
    """

    def __init__(self, byte_stream: ByteStream, framer: Framer) -> None:
        check_framer(framer)
        self._stream = byte_stream
        self._fed = _fed.Fed()
        self._fs = _cores._framed_socket_class(framer._core)._over(self._fed, framer)
        # A call yields only in _fill (_flush): another task's call while one waits
        # there is refused on entry, before it takes (sends) anything.
        self._receiving = anyio.ResourceGuard("reading from")
        self._sending = anyio.ResourceGuard("writing to")
        self._filling = self._flushing = False
        self._broken: str | None = None  # how a send broke the stream
        self._closed = False

    # -- receiving -----------------------------------------------------------------

    async def receive(self) -> bytes:
        """The next frame.

        :raises anyio.EndOfStream: if the stream ended between frames (every
            later call raises it again)
        :raises IncompleteFrame: if it ended inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing; every later
            call raises it again
        :raises anyio.ClosedResourceError: if this stream was closed
            (``aclose()``)
        :raises anyio.BusyResourceError: if another task is receiving on this
            stream
        :raises anyio.BrokenResourceError: if the byte stream beneath is broken
            (or whatever else its ``receive()`` raises)
        """
        if not self._filling:  # a frame already held, without a second coroutine
            try:
                return self._fs.recv()  # type: ignore[no-any-return]
            except (ConnectionClosed, OSError):
                pass  # none is whole, or the end: _read waits, or says which (the loop says it again)
        return await self._read(self._fs.recv)

    async def receive_many(self, max_frames: int | None = None) -> list[bytes]:
        """Every frame received (at most ``max_frames``), waiting for one.
        Frames come before errors: the call that meets bad input returns the
        frames before it, and the next call raises.

        :raises anyio.EndOfStream: if the stream ended between frames (every
            later call raises it again)
        :raises IncompleteFrame: if it ended inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing; every later
            call raises it again
        :raises TypeError: if ``max_frames`` is not None or an int
        :raises ValueError: if ``max_frames`` is below 1
        :raises anyio.ClosedResourceError: if this stream was closed
            (``aclose()``)
        :raises anyio.BusyResourceError: if another task is receiving on this
            stream
        :raises anyio.BrokenResourceError: if the byte stream beneath is broken
            (or whatever else its ``receive()`` raises)
        """
        while True:
            frames: list[bytes] = await self._read(self._fs.recv_many, max_frames)
            if frames:
                return frames
            await self._fill()

    async def receive_exactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes of the stream, unframed.

        :raises IncompleteFrame: if the stream ends after fewer than ``n``
            bytes (``partial`` holds them)
        :raises anyio.EndOfStream: if it ends before any byte
        :raises TypeError: if ``n`` is not an int
        :raises ValueError: if ``n`` is negative (or above ``sys.maxsize``)
        :raises FrameTooLarge: if the frames before met it and it is still
            to be raised (it comes first)
        :raises ProtocolError: if the frames before broke the framing
        :raises anyio.ClosedResourceError: if this stream was closed
            (``aclose()``)
        :raises anyio.BusyResourceError: if another task is receiving on this
            stream
        :raises anyio.BrokenResourceError: if the byte stream beneath is broken
            (or whatever else its ``receive()`` raises)
        """
        return await self._read(self._fs.recv_exactly, n)

    async def receive_until(
        self, delimiter: Buffer, *, keep: bool = False, max_size: int = DEFAULT_MAX_SIZE
    ) -> bytes:
        """The bytes up to ``delimiter`` (consumed; returned if ``keep``), unframed.

        :raises FrameTooLarge: if no ``delimiter`` comes within ``max_size``
            bytes (counted as returned), or the frames before met it and it is
            still to be raised (it comes first)
        :raises IncompleteFrame: if the stream ends before ``delimiter``
            (``partial`` holds the bytes received)
        :raises anyio.EndOfStream: if it ends before any byte
        :raises TypeError: if ``delimiter`` is not bytes-like, or ``max_size``
            is not an int
        :raises ValueError: if ``delimiter`` is empty, or ``max_size`` is below 1
        :raises ProtocolError: if the frames before broke the framing
        :raises anyio.ClosedResourceError: if this stream was closed
            (``aclose()``)
        :raises anyio.BusyResourceError: if another task is receiving on this
            stream
        :raises anyio.BrokenResourceError: if the byte stream beneath is broken
            (or whatever else its ``receive()`` raises)
        """
        return await self._read(self._fs.recv_until, delimiter, keep=keep, max_size=max_size)

    async def receive_until_eof(self, *, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """Every byte until the peer ends its side (``b""`` if none), unframed.

        :raises FrameTooLarge: if more than ``max_size`` bytes come before the
            end, or the frames before met it and it is still to be raised (it
            comes first)
        :raises TypeError: if ``max_size`` is not an int
        :raises ValueError: if ``max_size`` is below 1
        :raises ProtocolError: if the frames before broke the framing
        :raises anyio.ClosedResourceError: if this stream was closed
            (``aclose()``)
        :raises anyio.BusyResourceError: if another task is receiving on this
            stream
        :raises anyio.BrokenResourceError: if the byte stream beneath is broken
            (or whatever else its ``receive()`` raises)
        """
        return await self._read(self._fs.recv_until_eof, max_size=max_size)

    async def _read(self, read: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._filling:
            raise anyio.BusyResourceError("reading from")
        while True:
            try:
                return read(*args, **kwargs)
            except BlockingIOError:
                await self._fill()
            except IncompleteFrame:
                raise
            except ConnectionClosed:
                raise anyio.EndOfStream from None
            except OSError:  # the loop's, once closed
                if self._closed:
                    raise anyio.ClosedResourceError from None
                raise

    async def _fill(self) -> None:
        """Wait for the stream's next bytes (or its end) and hand them to the loop."""
        with self._receiving:
            self._filling = True
            try:
                data = await self._stream.receive(READ_SIZE)
            except anyio.EndOfStream:
                self._fed.feed_eof()
            else:
                self._fs._take_in(data)
            finally:
                self._filling = False

    @property
    def framer(self) -> Framer:
        """The framer; assign another to frame what follows differently (from the
        next frame not yet returned, in both directions).

        :raises TypeError: on assignment, if the value is not a fastframe framer
        """
        return self._fs.framer  # type: ignore[no-any-return]

    @framer.setter
    def framer(self, framer: Framer) -> None:
        self._fs.framer = framer

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned."""
        return self._fs.buffered  # type: ignore[no-any-return]

    # -- sending ---------------------------------------------------------------------

    async def send(self, item: Buffer, *, head: Buffer | None = None) -> None:
        """Send ``item`` as one frame (``head``: see ``LengthPrefixed.encode``).

        :raises TypeError: if ``item`` is not bytes-like, or ``head`` is given
            to a framer other than ``LengthPrefixed``
        :raises BufferError: if ``item`` is not contiguous in memory
        :raises ValueError: if the framer cannot carry ``item`` or ``head``
            (see ``Framer.encode``); nothing is sent
        :raises FrameTooLarge: if the frame would exceed the framer's
            ``max_size``; nothing is sent
        :raises anyio.ClosedResourceError: if this stream was closed
            (``aclose()``)
        :raises anyio.BrokenResourceError: if an earlier send was cancelled
            part-way or failed (the peer may hold part of a frame), or the
            byte stream beneath is broken (or whatever else its ``send()`` raises)
        :raises anyio.BusyResourceError: if another task is sending on this
            stream
        """
        self._check_sendable()
        await anyio.lowlevel.checkpoint_if_cancelled()  # (cancelled before a byte is written: nothing breaks)
        if head is None:
            self._fs.send(item)
        else:
            self._fs.send(item, head=head)
        await self._flush()

    async def send_many(self, items: Iterable[Buffer], *, head: Buffer | None = None) -> None:
        """Send every payload as a frame, in order; all are checked first.

        :raises TypeError: if ``items`` is not iterable, or one is not
            bytes-like, or ``head`` is given to a framer other than
            ``LengthPrefixed``
        :raises BufferError: if an item is not contiguous in memory
        :raises ValueError: if the framer cannot carry an item or ``head``
            (see ``Framer.encode``); nothing is sent
        :raises FrameTooLarge: if a frame would exceed the framer's
            ``max_size``; nothing is sent
        :raises anyio.ClosedResourceError: if this stream was closed
            (``aclose()``)
        :raises anyio.BrokenResourceError: if an earlier send was cancelled
            part-way or failed (the peer may hold part of a frame), or the
            byte stream beneath is broken (or whatever else its ``send()`` raises)
        :raises anyio.BusyResourceError: if another task is sending on this
            stream
        """
        self._check_sendable()
        await anyio.lowlevel.checkpoint_if_cancelled()
        if head is None:
            self._fs.send_many(items)
        else:
            self._fs.send_many(items, head=head)
        await self._flush()

    async def send_eof(self) -> None:
        """End this side of the stream; receiving goes on.

        :raises anyio.ClosedResourceError: if this stream was closed
            (``aclose()``)
        :raises anyio.BrokenResourceError: if the byte stream beneath is broken
            (or whatever else its ``send_eof()`` raises)
        """
        self._check_open()
        await self._stream.send_eof()

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError

    def _check_sendable(self) -> None:
        if self._flushing:
            raise anyio.BusyResourceError("writing to")
        self._check_open()
        if self._broken is not None:
            raise anyio.BrokenResourceError(
                f"{self._broken}: the peer may hold part of a frame, so nothing more can be framed "
                "on this stream: close it"
            )

    async def _flush(self) -> None:
        """Send what the loop wrote; cancelled part-way, the stream is broken."""
        with self._sending:
            self._flushing = True
            try:
                for part in self._fed.take_output():
                    try:
                        await self._stream.send(part)
                    except BaseException as exc:
                        if isinstance(exc, anyio.get_cancelled_exc_class()):
                            self._broken = "a send on this stream was cancelled part-way"
                        else:
                            self._broken = f"an earlier send on this stream failed ({type(exc).__name__}: {exc})"
                        raise
            finally:
                self._flushing = False

    # -- the stream ------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close this stream and the byte stream beneath it; a second call does nothing.

        :raises: nothing of its own; what the byte stream's ``aclose()`` raises
            goes through
        """
        if self._closed:
            # A second aclose() does nothing, as on anyio's socket streams.  A
            # TLSStream's would raise: its first one closed the socket beneath
            # even where it failed (BusyResourceError while another task receives).
            return
        self._closed = True
        self._fs.close()
        await self._stream.aclose()

    # Any: anyio's TypedAttributeProvider's own types (keys are typed_attribute()s)
    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        """The byte stream's typed attributes (for ``extra()``): its addresses,
        its socket, its TLS session..."""
        return self._stream.extra_attributes


async def connect_tcp(
    remote_host: str,
    remote_port: int,
    framer: Framer,
    *,
    tls: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    tls_hostname: str | None = None,
) -> FramedStream:
    """``anyio.connect_tcp(...)``, framed.

    :raises TypeError: if ``framer`` is not a fastframe framer
    :raises OSError: if the connection fails, as ``anyio.connect_tcp()`` says
    :raises ssl.SSLError: with TLS, if the handshake fails
        (``ssl.SSLCertVerificationError`` for the server's certificate)
    :raises anyio.BrokenResourceError: with TLS, if the connection breaks
        during the handshake
    """
    check_framer(framer)
    stream: ByteStream
    if tls or ssl_context is not None:  # as anyio.connect_tcp: a context means TLS
        stream = await anyio.connect_tcp(
            remote_host, remote_port, tls=True, ssl_context=ssl_context, tls_hostname=tls_hostname
        )
    else:
        stream = await anyio.connect_tcp(remote_host, remote_port)
    return FramedStream(stream, framer)


async def connect_unix(path: str | bytes | PathLike[str] | PathLike[bytes], framer: Framer) -> FramedStream:
    """``anyio.connect_unix(path)``, framed.

    :raises TypeError: if ``framer`` is not a fastframe framer
    :raises OSError: if the connection fails, as ``anyio.connect_unix()`` says
        (``FileNotFoundError``, ``ConnectionRefusedError``...)
    """
    check_framer(framer)
    try:
        stream = await anyio.connect_unix(path)
    except FileNotFoundError as exc:
        if exc.filename is not None:  # not the backend's word on the path
            raise
        raise _messages.no_unix_socket(path, "use connect_tcp({host!r}, {port}, framer)") from None
    return FramedStream(stream, framer)
