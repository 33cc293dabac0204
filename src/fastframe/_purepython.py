"""The pure-Python twin of ``_speedups``: the same classes, names and behaviour.

It is what PyPy and platforms without a compiled wheel run, so it is written for
speed as plain Python goes: frames are sliced straight out of the bytes handed to
``feed`` (one copy per frame, no per-frame buffer moves), and only the unfinished
frame at the end of a chunk is kept: as zero-copy pieces joined once when its
header gave its size, else in one bytearray.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from collections.abc import Iterable
from socket import socket as _Socket  # FramedSocket.socket hides the module
from typing import TYPE_CHECKING, Any

from . import _checks, _limits, _messages, _sending, _waiting
from ._checks import nbytes
from ._limits import LARGE_FRAME, NETSTRING_DIGITS, RECV_SIZE, VARINT_MAX
from .errors import ConnectionClosed, FrameTooLarge, IncompleteFrame

if TYPE_CHECKING:
    from typing_extensions import Buffer

IMPLEMENTATION = "python"

_NO_QUOTA = sys.maxsize

_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _sequence(payloads: Iterable[Any]) -> list[Any] | tuple[Any, ...]:
    """All payloads at once: every one is checked before any is encoded."""
    return payloads if type(payloads) in (list, tuple) else list(payloads)  # type: ignore[return-value]


def _piece(data: bytes, start: int, end: int) -> Any:
    """data[start:end] to keep: a zero-copy view when it is a good part of data,
    else a copy, so that a few held bytes never keep a big chunk alive."""
    if (end - start) * 4 >= len(data):
        return memoryview(data)[start:end]
    return data[start:end]


class Decoder:
    """Sans-IO decoder: bytes in, whole frames (``bytes``) out.

    Made by a framer's ``decoder()``.  ``feed(data)`` (or ``get_buffer()`` then
    ``buffer_updated(n)``) returns the frames the bytes complete, in order; any
    split of the stream gives the same frames.  ``eof()`` says the stream ended,
    ``buffered`` counts bytes held for an unfinished frame, ``detach()`` returns
    them.
    """

    # The stream machinery is here; subclasses say how one framing cuts frames
    # (_cut), what a held unfinished frame still needs (_want), where an oversize
    # frame ends (_skip_in), and what a frame's header announces (_layout,
    # _expected).  An unfinished frame whose size its header has announced is kept
    # as pieces of the chunks it arrived in and joined once, when complete;
    # anything else unfinished (a header cut short, a line without its delimiter
    # yet) is held in one bytearray.

    __slots__ = (
        "_buf", "_scanned", "_error", "_sticky", "_skip", "_pieces", "_lprefix",
        "_lhave", "_lsize", "_ltrail", "_area", "_window", "_max", "_quota",
    )

    def __init__(self, max_size: int) -> None:
        self._max = max_size
        self._buf = bytearray()  # the unfinished frame (or, after an error, bytes not yet cut)
        self._scanned = 0  # delimited framings: leading bytes of _buf known to hold no delimiter
        self._error: Exception | None = None  # raised by the next call
        self._sticky = False  # the error is a ProtocolError and stays
        self._skip: int | bool = 0  # bytes of an oversize frame still to discard
        # a frame of known size being collected: _lprefix (the bytes strip removes),
        # then _lhave of its _lsize bytes (body and trailer) in _pieces
        self._pieces: list[Any] | None = None
        self._lprefix = b""
        self._lhave = self._lsize = 0
        self._ltrail: int | None = None  # the byte that must end it
        self._area: bytearray | None = None  # get_buffer()'s memory
        self._window: int | None = None  # length of the last get_buffer() view
        # at most this many frames are cut per call (FramedSocket.recv cuts one, so
        # the bytes after it can still be decoded otherwise: framer switch, raw reads)
        self._quota = _NO_QUOTA

    # -- public API ---------------------------------------------------------

    def feed(self, data: Buffer) -> list[bytes]:
        """Take in ``data``; return every frame it completes, in order."""
        if type(data) is not bytes:
            data = _checks.byte_view(data).tobytes()
        self._window = None
        frames: list[bytes] = []
        self._consume(data, frames)
        return frames if self._error is None else self._deliver(frames)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """A writable buffer for the next bytes (``asyncio.BufferedProtocol``)."""
        size = sizehint if sizehint > RECV_SIZE else RECV_SIZE
        area = self._area
        if area is None or len(area) < size:
            area = self._area = bytearray(size)
        self._window = len(area)
        return memoryview(area)

    def buffer_updated(self, nbytes: int) -> list[bytes]:
        """``nbytes`` were written at the start of the last ``get_buffer()``
        view; return every frame they complete."""
        window = self._window
        if window is None:
            raise _messages.buffer_updated_first()
        if not 0 <= nbytes <= window:
            raise _messages.nbytes_out_of_range(window, nbytes)
        self._window = None
        with memoryview(self._area) as view:  # type: ignore[arg-type]
            data = view[:nbytes].tobytes()
        frames: list[bytes] = []
        self._consume(data, frames)
        return self._deliver(frames)

    @property
    def buffered(self) -> int:
        """Bytes held that are not yet a frame."""
        if self._skip:
            return 0
        if self._pieces is not None:
            return len(self._lprefix) + self._lhave
        return len(self._buf)

    def eof(self) -> list[bytes]:
        """The stream has ended: return the frames still held (normally none).

        Raises ``IncompleteFrame`` if an unfinished frame is held, and any error
        still pending from an earlier call.
        """
        self._window = None
        frames: list[bytes] = []
        self._consume(b"", frames)
        if self._error is None and self.buffered:
            if self._pieces is not None:
                expected: int | None = len(self._lprefix) + self._lsize
            else:
                expected = self._expected()
            if not frames:
                # not through a local: the traceback would hold it, a cycle that
                # keeps the held bytes until the garbage collector runs
                raise IncompleteFrame(self._held_bytes(), expected)
            self._error = IncompleteFrame(self._held_bytes(), expected)
        return self._deliver(frames)

    def detach(self) -> bytes:
        """Hand over every byte held and reset the decoder to its initial state."""
        held = b"" if self._skip else self._held_bytes()
        self._pieces = None
        self._buf.clear()
        self._scanned = 0
        self._error = None
        self._sticky = False
        self._skip = 0
        self._window = None
        return held

    # -- the stream machinery -------------------------------------------------

    def _deliver(self, frames: list[bytes]) -> list[bytes]:
        error = self._error
        if error is None or frames:
            return frames
        if self._sticky:
            raise type(error)(*error.args)
        self._error = None
        try:
            raise error
        finally:
            del error  # else its traceback holds this frame, which holds it


    def _consume(
        self, data: bytes, frames: list[bytes], pos: int = 0
    ) -> tuple[bytes, int] | None:
        """Take in ``data[pos:]``: cut frames into ``frames`` until an error is
        met; whatever is not cut is held (or skipped, inside an oversize frame).
        Stopped by the quota, it holds nothing more and returns (data, where)
        the uncut bytes start."""
        buf = self._buf
        n = len(data)
        while True:
            if self._skip:
                pos = self._skip_in(data, pos)
                if self._skip:
                    return None
            if self._error is not None:
                if pos < n:
                    if self._pieces is not None:
                        self._stop_collecting()
                    if not buf:
                        self._scanned = 0
                    buf += memoryview(data)[pos:]
                return None
            if len(frames) >= self._quota:
                return (data, pos) if pos < n else None
            pieces = self._pieces
            if pieces is not None:
                take = self._lsize - self._lhave
                if take > n - pos:
                    if pos < n:
                        pieces.append(_piece(data, pos, n))
                        self._lhave += n - pos
                    return None
                if take:
                    pieces.append(_piece(data, pos, pos + take))
                    pos += take
                if self._ltrail is not None:
                    self._finish_trailed(frames)
                    continue
                frames.append(b"".join(pieces))  # the frame is whole: one copy
                self._pieces = None
            elif buf:
                if self._want(data, pos) > n - pos:
                    buf += memoryview(data)[pos:]
                    return None
                # the held frame ends (or fails) in data: one loop cuts it and the rest
                data = b"".join((buf, data[pos:] if pos else data))
                pos = 0
                n = len(data)
                buf.clear()
                self._scanned = 0
            if pos >= n:
                return None
            pos = self._cut(data, pos, frames)
            if self._error is None and len(frames) < self._quota:
                if pos < n and not self._start_collecting(data, pos):
                    buf += memoryview(data)[pos:]
                    self._scanned = n - pos  # _cut looked at all of it
                return None
            # an error, or the quota: the loop's top deals with the rest

    def _held_bytes(self) -> bytes:
        if self._pieces is not None:
            return self._lprefix + b"".join(self._pieces)
        return bytes(self._buf)

    def _start_collecting(self, data: bytes, pos: int) -> bool:
        """If data[pos:] begins a frame whose header gives its size, go on
        collecting that frame in pieces and return True."""
        layout = self._layout(data, pos)
        if layout is None:
            return False
        self._collect(data, pos, *layout)
        return True

    def _collect(self, data: bytes, pos: int, total: int, strip: int, trail: int | None) -> None:
        """Go on collecting the frame at data[pos:] (total bytes on the wire) in pieces."""
        start = pos + strip
        n = len(data)
        self._lprefix = data[pos:start]
        self._pieces = [_piece(data, start, n)] if start < n else []
        self._lhave = n - start
        self._lsize = total - strip
        self._ltrail = trail

    def _finish_trailed(self, frames: list[bytes]) -> None:
        """The collected frame is whole: check the byte that must end it."""
        pieces = self._pieces
        assert pieces is not None
        last = pieces[-1]
        if last[-1] != self._ltrail:
            self._stop_collecting()
            self._fail(_messages.netstring_no_comma(last[-1]))
            return
        pieces[-1] = last[:-1]
        frames.append(b"".join(pieces))
        self._pieces = None

    def _stop_collecting(self) -> None:
        """Hold the frame being collected as plain held bytes again (after an
        error, bytes are taken in without being cut)."""
        self._buf += self._held_bytes()
        self._pieces = None
        self._scanned = 0

    def _oversize(self, size: int, wire: int) -> None:
        self._error = FrameTooLarge(size, self._max)
        self._skip = wire

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._sticky = True

    def _skip_in(self, data: bytes, pos: int) -> int:
        """Discard the oversize frame's bytes (held ones first); return the new pos."""
        buf = self._buf
        k = min(self._skip, len(buf))
        del buf[:k]
        self._skip -= k
        k = min(self._skip, len(data) - pos)
        self._skip -= k
        return pos + k

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        """Cut every whole frame of data[pos:] into frames; return where the
        first unfinished (or bad: the error is set) frame starts."""
        raise NotImplementedError

    def _want(self, data: bytes, pos: int) -> int:
        """How many bytes of ``data[pos:]`` the held frame needs before ``_cut``
        can decide it (whole frame or error) or know its size; more than there
        are if that is not yet known."""
        raise NotImplementedError

    def _layout(self, data: bytes, pos: int) -> tuple[int, int, int | None] | None:
        """(wire size, stripped head, final byte) of the frame at data[pos:] if
        its (valid) header is complete there."""
        return None

    def _expected(self) -> int | None:
        raise NotImplementedError


# -- length-prefixed ------------------------------------------------------------


class _LengthFormat:
    """Shared option arithmetic of LengthPrefixed's decoder and encoder."""

    def __init__(self, framer: Any) -> None:
        fmt = (">" if framer.byteorder == "big" else "<") + _FORMATS[framer.width]
        self.struct = struct.Struct(fmt)
        self.offset: int = framer.offset
        self.header: int = framer.offset + framer.width
        self.adjustment: int = framer.adjustment
        self.strip: int = framer.strip
        self.max_size: int = framer.max_size
        self.field_max: int = 2 ** (8 * framer.width) - 1
        # the frame encode() may produce: within max_size and what the field can say
        self.encode_max = min(
            self.max_size, self.field_max + self.adjustment + self.header - self.strip
        )


class LengthPrefixedDecoder(Decoder):
    __slots__ = ("_unpack", "_off", "_hl", "_adj", "_strip", "_plain")

    def __init__(self, fmt: _LengthFormat) -> None:
        super().__init__(fmt.max_size)
        self._unpack = fmt.struct.unpack_from
        self._off = fmt.offset
        self._hl = fmt.header
        self._adj = fmt.adjustment
        self._strip = fmt.strip
        # the common layout [length][body] has a shorter loop
        self._plain = fmt.offset == 0 and fmt.adjustment == 0 and fmt.strip == fmt.header

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        unpack = self._unpack
        hl = self._hl
        n = len(data)
        append = frames.append
        if self._plain and self._max >= n and self._quota == _NO_QUOTA:
            # A frame that ends inside data is shorter than data, so it cannot
            # exceed a max_size >= len(data): only the last frame needs a check.
            # The next header is read before a frame is cut: when that read
            # works, the frame is whole, so the loop needs no bounds test.
            try:
                (size,) = unpack(data, pos)
            except struct.error:
                return pos
            start = pos + hl
            if start + size > n:  # big frames: the first is already cut short
                pos = start + size
            else:
                try:
                    while True:
                        start = pos + hl
                        pos = start + size
                        (size,) = unpack(data, pos)
                        append(data[start:pos])
                except (struct.error, OverflowError):  # OverflowError: pos past 2**63
                    pass
            if pos <= n:  # [start:pos] is whole; fewer than hl bytes follow it
                append(data[start:pos])
                return pos
            size = pos - start  # [start:pos] is cut short
            if size > self._max:
                self._oversize(size, hl + size)
                return start - hl
            self._collect(data, start - hl, hl + size, hl, None)
            return n
        off = self._off
        adj = self._adj
        strip = self._strip
        max_size = self._max
        quota = self._quota
        while n - pos >= hl and len(frames) < quota:
            (value,) = unpack(data, pos + off)
            body = value + adj
            if body < 0 or body + hl - strip > max_size:
                self._bad_header(value, body)
                return pos
            end = pos + hl + body
            if end > n:
                return pos
            append(data[pos + strip : end])
            pos = end
        return pos

    def _bad_header(self, value: int, body: int) -> None:
        if body < 0:
            self._fail(_messages.negative_length(value, self._adj))
        else:
            size = body + self._hl - self._strip
            self._oversize(size, self._hl + body)

    def _want(self, data: bytes, pos: int) -> int:
        have = len(self._buf)
        if have < self._hl:
            return self._hl - have
        value: int = self._unpack(self._buf, self._off)[0]
        body = value + self._adj
        if body < 0 or body + self._hl - self._strip > self._max:
            return 0  # _cut reports it
        return max(self._hl + body - have, 0)  # 0: bytes taken in after an error hold it

    def _layout(self, data: bytes, pos: int) -> tuple[int, int, int | None] | None:
        if len(data) - pos < self._hl:
            return None
        (value,) = self._unpack(data, pos + self._off)
        return self._hl + value + self._adj, self._strip, None

    def _expected(self) -> int | None:
        if len(self._buf) < self._hl:
            return None
        value: int = self._unpack(self._buf, self._off)[0]
        return self._hl + value + self._adj


class LengthPrefixedCodec:
    __slots__ = ("_fmt",)

    def __init__(self, framer: Any) -> None:
        self._fmt = _LengthFormat(framer)

    def decoder(self) -> LengthPrefixedDecoder:
        return LengthPrefixedDecoder(self._fmt)

    def _head(self, head: Any) -> Any:
        if nbytes(head) != self._fmt.offset:
            raise _messages.head_size(self._fmt.offset, nbytes(head))
        return head

    def _field(self, n: int) -> bytes:
        fmt = self._fmt
        size = n + fmt.header - fmt.strip
        if size > fmt.encode_max:
            raise FrameTooLarge(size, fmt.encode_max)
        value = n - fmt.adjustment
        if value < 0:
            raise _messages.body_below_adjustment(n, fmt.adjustment)
        return fmt.struct.pack(value)

    def encode(self, payload: Buffer, head: Buffer = b"") -> bytes:
        head = self._head(head)
        return b"".join((head, self._field(nbytes(payload)), payload))

    def _affixes(self, payload: Buffer, head: Buffer = b"") -> tuple[bytes, bytes]:
        """(what goes before, what goes after) the payload in its frame."""
        head = self._head(head)
        return bytes(head) + self._field(nbytes(payload)), b""

    def encode_many(self, payloads: Iterable[Buffer], head: Buffer = b"") -> bytes:
        head = self._head(head)
        payloads = _sequence(payloads)
        fmt = self._fmt
        if not fmt.offset and not fmt.adjustment:
            # Every payload's work done by builtins: lengths, headers, interleaving.
            lengths = list(map(len, payloads))
            total = sum(lengths)
            limit = fmt.encode_max - fmt.header + fmt.strip
            if not lengths or total <= limit or max(lengths) <= limit:
                parts: list[Any] = [None] * (2 * len(lengths))
                parts[::2] = map(fmt.struct.pack, lengths)
                parts[1::2] = payloads
                try:
                    out = b"".join(parts)
                except TypeError:  # one is not bytes-like: the loop below says which
                    out = None
                # len() counts items, not bytes, for a few buffer types: then check each
                if out is not None and len(out) == total + fmt.header * len(lengths):
                    return out
        field = self._field
        parts = []
        append = parts.append
        for payload in payloads:
            append(head)
            append(field(nbytes(payload)))
            append(payload)
        return b"".join(parts)


# -- delimited and lines --------------------------------------------------------


class DelimitedDecoder(Decoder):
    """Frames ending with a delimiter; ``Lines`` also strips one ``\\r`` before it.

    The search for a frame's end stops once no frame within ``max_size`` is
    possible (``_limit`` bytes from its start), so an endless line costs at most
    ``max_size`` plus a few bytes of memory.
    """

    __slots__ = ("_delim", "_keep", "_strip_cr", "_limit")

    def __init__(self, delimiter: bytes, keep: bool, strip_cr: bool, max_size: int) -> None:
        super().__init__(max_size)
        self._delim = delimiter
        self._keep = keep
        self._strip_cr = strip_cr
        # the furthest a valid frame's delimiter can end, counted from the frame's start
        self._limit = max_size + (0 if keep else len(delimiter)) + strip_cr

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        delim = self._delim
        dl = len(delim)
        n = len(data)
        limit = self._limit
        append = frames.append
        if n - pos < limit and self._quota == _NO_QUOTA:
            # no frame that ends inside data can be too large: split does it all
            parts = data[pos:].split(delim) if pos else data.split(delim)
            rest = parts.pop()
            if self._keep:
                parts = [part + delim for part in parts]
            elif self._strip_cr and b"\r\n" in data:
                parts = [part[:-1] if part[-1:] == b"\r" else part for part in parts]
            frames += parts
            return n - len(rest)
        quota = self._quota
        while len(frames) < quota:
            end = data.find(delim, pos, pos + limit)
            if end < 0:
                if n - pos >= limit:
                    self._oversize(self._max + 1, 0)
                return pos
            size = end - pos
            if self._strip_cr and size and data[end - 1] == 13:
                size -= 1
            elif self._keep:
                size += dl
            if size > self._max:
                self._oversize(size, 0)
                return pos
            append(data[pos : pos + size])
            pos = end + dl
        return pos

    def _want(self, data: bytes, pos: int) -> int:
        buf = self._buf
        delim = self._delim
        dl = len(delim)
        have = len(buf)
        if buf.find(delim, max(self._scanned - dl + 1, 0)) >= 0 or have >= self._limit:
            self._scanned = 0
            return 0  # a frame's end or the limit is held: _cut decides
        self._scanned = have
        # a delimiter may straddle the held bytes and data
        tail = bytes(buf[max(have - dl + 1, 0) :])
        end = (tail + data[pos : pos + dl - 1]).find(delim)
        if end >= 0:
            return end + dl - len(tail)
        room = self._limit - have
        end = data.find(delim, pos, pos + room)
        if end >= 0:
            return end + dl - pos
        return min(room, len(data) - pos + 1)

    def _skip_in(self, data: bytes, pos: int) -> int:
        # The oversize frame runs to the first delimiter; only its last
        # len(delim) - 1 bytes are held, in case the delimiter straddles chunks.
        buf = self._buf
        delim = self._delim
        dl = len(delim)
        n = len(data)
        end = buf.find(delim)
        if end >= 0:
            del buf[: end + dl]
            return self._skipped(pos)
        tail = bytes(buf[max(len(buf) - dl + 1, 0) :])
        buf.clear()
        end = (tail + data[pos : pos + dl - 1]).find(delim)
        if end >= 0:
            return self._skipped(pos + end + dl - len(tail))
        end = data.find(delim, pos)
        if end >= 0:
            return self._skipped(end + dl)
        if dl > 1:
            buf += (tail + data[max(pos, n - dl + 1) :])[1 - dl :]
        return n

    def _skipped(self, pos: int) -> int:
        self._skip = False
        self._scanned = 0
        return pos

    def _oversize(self, size: int, wire: int) -> None:
        self._error = FrameTooLarge(size, self._max)
        self._skip = True

    def _expected(self) -> int | None:
        return None


class DelimitedCodec:
    __slots__ = ("_delim", "_keep", "_strip_cr", "_max")

    def __init__(self, framer: Any) -> None:
        self._delim = framer.delimiter
        self._keep = framer.keep
        self._strip_cr = framer._strip_cr
        self._max = framer.max_size

    def decoder(self) -> DelimitedDecoder:
        return DelimitedDecoder(self._delim, self._keep, self._strip_cr, self._max)

    def _check(self, payload: Any) -> None:
        delim = self._delim
        data = payload if type(payload) is bytes else _checks.byte_view(payload).tobytes()
        # The decoder ends the frame at the first delimiter in payload + delimiter:
        # that must be the appended one (b"xa" + b"aa" would end after b"x").
        tail = data[max(len(data) - len(delim) + 1, 0) :]
        if delim in data or (tail + delim).find(delim) != len(tail):
            raise _messages.contains_delimiter(delim)
        if self._strip_cr and data.endswith(b"\r"):
            raise _messages.line_ends_with_cr()
        size = len(data) + len(delim) * self._keep
        if size > self._max:
            raise FrameTooLarge(size, self._max)

    def encode(self, payload: Buffer) -> bytes:
        self._check(payload)
        return b"".join((payload, self._delim))

    def _affixes(self, payload: Buffer) -> tuple[bytes, bytes]:
        self._check(payload)
        return b"", self._delim

    def encode_many(self, payloads: Iterable[Buffer]) -> bytes:
        payloads = _sequence(payloads)
        parts: list[Any] = []
        append = parts.append
        delim = self._delim
        check = self._check
        for payload in payloads:
            check(payload)
            append(payload)
            append(delim)
        return b"".join(parts)


# -- fixed size -------------------------------------------------------------------


class FixedSizeDecoder(Decoder):
    __slots__ = ("_size",)

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._size = size

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        size = self._size
        end = pos + min((len(data) - pos) // size, self._quota - len(frames)) * size
        frames += [data[i : i + size] for i in range(pos, end, size)]
        return end

    def _want(self, data: bytes, pos: int) -> int:
        return max(self._size - len(self._buf), 0)

    def _layout(self, data: bytes, pos: int) -> tuple[int, int, int | None] | None:
        return self._size, 0, None

    def _expected(self) -> int | None:
        return self._size


class FixedSizeCodec:
    __slots__ = ("_size",)

    def __init__(self, framer: Any) -> None:
        self._size = framer.size

    def decoder(self) -> FixedSizeDecoder:
        return FixedSizeDecoder(self._size)

    def _check(self, payload: Any) -> None:
        if nbytes(payload) != self._size:
            raise _messages.wrong_fixed_size(self._size, nbytes(payload))

    def encode(self, payload: Buffer) -> bytes:
        self._check(payload)
        return bytes(payload)

    def _affixes(self, payload: Buffer) -> tuple[bytes, bytes]:
        self._check(payload)
        return b"", b""

    def encode_many(self, payloads: Iterable[Buffer]) -> bytes:
        parts = _sequence(payloads)
        for payload in parts:
            self._check(payload)
        return b"".join(parts)


class UntilEofDecoder(Decoder):
    """The rest of the stream is one frame, ended by EOF (``recv_until_eof``);
    more than max_size bytes is oversize, and the rest of the stream is skipped."""

    __slots__ = ()

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        if len(data) - pos > self._max:
            self._oversize(self._max + 1, 2**64 - 1)
        return pos

    def _want(self, data: bytes, pos: int) -> int:
        have = len(self._buf)
        return 0 if have > self._max else self._max + 1 - have

    def _expected(self) -> int | None:
        return None


# -- netstring ------------------------------------------------------------------


class NetstringDecoder(Decoder):
    """``b"5:hello,"``: decimal length without leading zeros, ``:``, body, ``,``."""

    __slots__ = ()

    def _header(self, data: Any, pos: int) -> tuple[int, int] | None:
        """(length, header size) of the netstring at pos; None while incomplete.
        A malformed header sets the error and returns (-1, 0)."""
        colon = data.find(b":", pos, pos + NETSTRING_DIGITS + 1)
        digits = data[pos : colon if colon >= 0 else pos + NETSTRING_DIGITS + 1]
        if colon >= 0 and digits.isdigit() and (digits[0] != 48 or len(digits) == 1):
            return int(digits), len(digits) + 1
        # find the first offending byte, whatever the chunking
        for i, byte in enumerate(digits):
            if not 48 <= byte <= 57:
                self._fail(_messages.netstring_non_digit(byte))
                return -1, 0
            if i == 1 and digits[0] == 48:
                self._fail(_messages.netstring_leading_zero())
                return -1, 0
        if colon == pos:
            self._fail(_messages.netstring_empty())
            return -1, 0
        if len(digits) > NETSTRING_DIGITS:
            self._fail(_messages.netstring_too_long())
            return -1, 0
        return None

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        n = len(data)
        append = frames.append
        quota = self._quota
        while pos < n and len(frames) < quota:
            header = self._header(data, pos)
            if header is None:
                return pos
            length, hl = header
            if hl == 0:
                return pos
            if length > self._max:
                self._oversize(length, hl + length + 1)
                return pos
            start = pos + hl
            end = start + length
            if end >= n:
                return pos
            if data[end] != 44:
                self._fail(_messages.netstring_no_comma(data[end]))
                return pos
            append(data[start:end])
            pos = end + 1
        return pos

    def _want(self, data: bytes, pos: int) -> int:
        header = self._header(self._buf, 0)
        if header is None:
            return 1
        length, hl = header
        if hl == 0 or length > self._max:
            return 0
        return max(hl + length + 1 - len(self._buf), 0)

    def _layout(self, data: bytes, pos: int) -> tuple[int, int, int | None] | None:
        header = self._header(data, pos)
        if header is None:
            return None
        length, hl = header
        return hl + length + 1, hl, 44  # b","

    def _expected(self) -> int | None:
        header = self._header(self._buf, 0)
        return None if header is None else header[0] + header[1] + 1


class NetstringCodec:
    __slots__ = ("_max",)

    def __init__(self, framer: Any) -> None:
        self._max = framer.max_size

    def decoder(self) -> NetstringDecoder:
        return NetstringDecoder(self._max)

    def _head(self, payload: Any) -> bytes:
        n = nbytes(payload)
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        return b"%d:" % n

    def encode(self, payload: Buffer) -> bytes:
        return b"".join((self._head(payload), payload, b","))

    def _affixes(self, payload: Buffer) -> tuple[bytes, bytes]:
        return self._head(payload), b","

    def encode_many(self, payloads: Iterable[Buffer]) -> bytes:
        payloads = _sequence(payloads)
        parts: list[Any] = []
        append = parts.append
        head = self._head
        for payload in payloads:
            append(head(payload))
            append(payload)
            append(b",")
        return b"".join(parts)


# -- varint-prefixed ------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class VarintPrefixedDecoder(Decoder):
    """A base-128 varint (least significant group first) then that many bytes."""

    __slots__ = ()

    def _header(self, data: Any, pos: int) -> tuple[int, int] | None:
        """(length, varint size) at pos; None while incomplete; (-1, 0) if malformed."""
        value = 0
        for i in range(min(len(data) - pos, VARINT_MAX)):
            byte = data[pos + i]
            value |= (byte & 0x7F) << (7 * i)
            if byte < 0x80:
                if i == VARINT_MAX - 1 and byte > 1:
                    self._fail(_messages.varint_overflow())
                    return -1, 0
                return value, i + 1
            if i == VARINT_MAX - 1:
                self._fail(_messages.varint_too_long())
                return -1, 0
        return None

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        n = len(data)
        append = frames.append
        max_size = self._max
        quota = self._quota
        while pos < n and len(frames) < quota:
            length = data[pos]
            if length < 0x80:
                hl = 1
            else:
                header = self._header(data, pos)
                if header is None:
                    return pos
                length, hl = header
                if hl == 0:
                    return pos
            if length > max_size:
                self._oversize(length, hl + length)
                return pos
            end = pos + hl + length
            if end > n:
                return pos
            append(data[pos + hl : end])
            pos = end
        return pos

    def _want(self, data: bytes, pos: int) -> int:
        header = self._header(self._buf, 0)
        if header is None:
            return 1
        length, hl = header
        if hl == 0 or length > self._max:
            return 0
        return max(hl + length - len(self._buf), 0)

    def _layout(self, data: bytes, pos: int) -> tuple[int, int, int | None] | None:
        header = self._header(data, pos)
        if header is None:
            return None
        length, hl = header
        return hl + length, hl, None

    def _expected(self) -> int | None:
        header = self._header(self._buf, 0)
        return None if header is None else header[0] + header[1]


class VarintPrefixedCodec:
    __slots__ = ("_max",)

    def __init__(self, framer: Any) -> None:
        self._max = framer.max_size

    def decoder(self) -> VarintPrefixedDecoder:
        return VarintPrefixedDecoder(self._max)

    def _head(self, payload: Any) -> bytes:
        n = nbytes(payload)
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        return _varint(n)

    def encode(self, payload: Buffer) -> bytes:
        return b"".join((self._head(payload), payload))

    def _affixes(self, payload: Buffer) -> tuple[bytes, bytes]:
        return self._head(payload), b""

    def encode_many(self, payloads: Iterable[Buffer]) -> bytes:
        payloads = _sequence(payloads)
        parts: list[Any] = []
        append = parts.append
        head = self._head
        for payload in payloads:
            append(head(payload))
            append(payload)
        return b"".join(parts)


# -- sockets --------------------------------------------------------------------

# what a FramedSocket's decoder cuts
_FRAMES, _EXACTLY, _UNTIL, _UNTIL_EOF = range(4)
# what one receive system call gave
_GOT_EOF, _GOT_BYTES, _GOT_NOTHING = range(3)
# Sends never block in the kernel: a signal handler that raises right after a
# send was cut short would lose the count of bytes it sent.
_SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0) | getattr(socket, "MSG_DONTWAIT", 0)
class FramedSocket:
    """A stream socket that sends and receives whole frames.

    ``FramedSocket(sock, framer)`` takes over ``sock`` (any connected stream
    socket: TCP, AF_UNIX, ``socketpair()``) and frames what goes both ways with
    ``framer``.  The socket's timeout, read at each call, decides how calls wait:
    blocking, a deadline for the whole call, or not at all (non-blocking).
    Nothing is lost on a timeout: received bytes stay buffered for the next call,
    unsent bytes stay queued (``pending_output``) and go out first.
    """

    def __init__(self, sock: _Socket, framer: Any) -> None:
        _checks.check_socket(sock)
        self._sock: _Socket | None = sock
        self._out: list[Any] = []  # queued output, oldest first
        self._out_pos = 0  # bytes of _out[0] already sent
        self._out_size = 0  # bytes queued and not sent
        # one receiving and one sending call at a time (Python code can switch
        # threads between a test and a set, hence locks, not flags)
        self._receiving = threading.Lock()
        self._sending = threading.Lock()
        self._closing: _Socket | None = None  # closed by close(), still in use by a call
        self._eof = False
        # received bytes the decoder has not taken in: data[pos:], after a cut
        # stopped by the quota
        self._rest = b""
        self._rest_pos = 0
        self.framer = framer
        self._dec: Decoder = self._codec.decoder()
        self._kind = _FRAMES
        self._key: Any = framer  # the framer, or the raw read, that _dec decodes for

    # -- receiving ------------------------------------------------------------

    def recv(self) -> bytes:
        """The next frame (``bytes``)."""
        return self._one(_FRAMES, None)

    def _one(self, kind: int, key: Any) -> bytes:
        frames = self._receive(kind, key, 1)
        if not frames:
            raise _messages.no_frame_yet()
        return frames[0]

    def recv_many(self, max_frames: int | None = None) -> list[bytes]:
        """Every complete frame, at most ``max_frames``; waits for one unless
        the socket is non-blocking (then ``[]`` when none is complete)."""
        limit = _checks.check_max_frames(max_frames)
        return self._receive(_FRAMES, None, _NO_QUOTA if limit is None else limit)

    def __iter__(self) -> FramedSocket:
        return self

    def __next__(self) -> bytes:
        try:
            return self._one(_FRAMES, None)
        except IncompleteFrame:
            raise
        except ConnectionClosed:
            raise StopIteration from None

    def recv_exactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes of the stream, unframed."""
        n = _checks.check_count(n)
        if n == 0:
            self._check_open()
            return b""
        return self._one(_EXACTLY, n)

    def recv_until(
        self, delimiter: Buffer, *, keep: bool = False, max_size: int = _limits.DEFAULT_MAX_SIZE
    ) -> bytes:
        """The bytes up to ``delimiter`` (consumed; returned if ``keep``)."""
        key = _checks.check_until(delimiter, max_size) + (bool(keep),)
        return self._one(_UNTIL, key)

    def recv_until_eof(self, *, max_size: int = _limits.DEFAULT_MAX_SIZE) -> bytes:
        """Every byte until the peer closes its side (``b""`` if none)."""
        return self._one(_UNTIL_EOF, _checks.check_max_size(max_size))

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned."""
        return self._dec.buffered + len(self._rest) - self._rest_pos

    @property
    def framer(self) -> Any:
        """The framer; assign another to decode what follows differently."""
        return self._framer

    @framer.setter
    def framer(self, framer: Any) -> None:
        _checks.check_framer(framer)
        if self._receiving.locked():  # which bytes the new framing would start at is a race
            raise _messages.busy("receiving")
        self._codec = globals()[framer._codec_name](framer)
        self._framer = framer

    def _receive(self, kind: int, key: Any, quota: int) -> list[bytes]:
        """Cut up to quota frames of this kind, receiving as the socket's mode
        allows until there is one ([] only on a non-blocking socket)."""
        self._check_open()
        if not self._receiving.acquire(blocking=False):
            raise _messages.busy("receiving")
        frames: list[bytes] = []
        call = None
        try:
            while True:
                dec = self._dec
                if not self._fits(kind, key):
                    if dec._error is not None:
                        dec._deliver(frames)  # raises it: errors come before a switch
                    if not dec._skip or self._eof:
                        self._switch(kind, key)
                        continue
                    # the old framing's oversize frame is skipped first
                    self._cut(dec, 0, frames)
                    if not dec._skip:
                        continue
                else:
                    self._cut(dec, quota, frames)
                    frames = dec._deliver(frames)
                    if frames:
                        return frames
                    if self._eof:
                        return self._at_eof(dec)
                if call is None:
                    call = _waiting.Call(self._sock)  # type: ignore[arg-type]
                got = self._recv_into(call)
                if self._sock is None:  # close() in another thread woke the call
                    raise _messages.closed()
                if got == _GOT_NOTHING:
                    return frames
                if got == _GOT_EOF:
                    self._eof = True
        except OSError:
            if self._sock is None:  # the wake-up's error, not the connection's
                raise _messages.closed() from None
            raise
        finally:
            self._receiving.release()
            self._finish_close()

    def _fits(self, kind: int, key: Any) -> bool:
        """Whether the decoder is the one for this kind of read."""
        return self._kind == kind and (
            self._key is self._framer if kind == _FRAMES else self._key == key
        )

    def _cut(self, dec: Decoder, quota: int, frames: list[bytes]) -> None:
        data = self._rest
        pos = self._rest_pos
        self._rest = b""
        self._rest_pos = 0
        dec._quota = quota
        dec._window = None
        rest = dec._consume(data, frames, pos)
        if rest is not None:
            self._rest, self._rest_pos = rest

    def _at_eof(self, dec: Decoder) -> list[bytes]:
        if self._kind == _UNTIL_EOF:
            return [dec.detach()]
        frames = dec.eof()
        if not frames:
            raise _messages.connection_closed()
        return frames

    def _switch(self, kind: int, key: Any) -> None:
        """Decode what is buffered for a different kind of read."""
        dec: Decoder
        if kind == _FRAMES:
            dec = self._codec.decoder()
            key = self._framer
        elif kind == _EXACTLY:
            dec = FixedSizeDecoder(key)
        elif kind == _UNTIL:
            dec = DelimitedDecoder(key[0], key[2], False, key[1])
        else:
            dec = UntilEofDecoder(key)
        held = self._dec.detach()
        if held:
            self._rest = held + self._rest[self._rest_pos :]
            self._rest_pos = 0
        self._dec = dec
        self._kind = kind
        self._key = key

    def _recv_into(self, call: _waiting.Call) -> int:
        """One receive, waiting as the socket's mode says."""
        if self._sock is None:  # closed by another thread
            raise _messages.closed()
        data = call.attempt(False, call.sock.recv, RECV_SIZE)
        if data is None:
            return _GOT_NOTHING
        if not data:
            return _GOT_EOF
        self._rest = data
        self._rest_pos = 0
        return _GOT_BYTES

    # -- sending --------------------------------------------------------------

    def send(self, payload: Buffer, *, head: Buffer | None = None) -> None:
        """Send ``payload`` as one frame (``head``: see ``LengthPrefixed.encode``)."""
        self._check_open()
        self._check_head(head)
        if nbytes(payload) < LARGE_FRAME:
            self._write([self._encode_many((payload,), head)])
        else:
            self._write(self._affixed(payload, head))

    def send_many(self, payloads: Iterable[Buffer], *, head: Buffer | None = None) -> None:
        """Send every payload as a frame, in order; all are checked first."""
        self._check_open()
        self._check_head(head)
        seq = _sequence(payloads)
        try:  # len() counts items, not bytes, for a few buffer types: they go the long way
            all_small = max(map(len, seq), default=0) < LARGE_FRAME
        except TypeError:
            all_small = False
        if all_small or not any(nbytes(p) >= LARGE_FRAME for p in seq):
            self._write([self._encode_many(seq, head)])
        else:
            self._write(_sending.parts_to_send(
                seq, lambda small: self._encode_many(small, head),
                lambda big: self._affixed(big, head)))

    def _check_head(self, head: Any) -> None:
        if head is not None and not isinstance(self._codec, LengthPrefixedCodec):
            raise TypeError(f"head= is for LengthPrefixed framers, not {self._framer!r}")

    def _affixed(self, payload: Any, head: Any) -> list[Any]:
        if head is None:
            before, after = self._codec._affixes(payload)
        else:
            before, after = self._codec._affixes(payload, head)
        return [before, payload, after]

    def _encode_many(self, payloads: Any, head: Any) -> bytes:
        if head is None:
            return self._codec.encode_many(payloads)  # type: ignore[no-any-return]
        return self._codec.encode_many(payloads, head)  # type: ignore[no-any-return]

    def sendall(self, data: Buffer) -> None:
        """Send raw bytes, unframed, in order with the frames."""
        self._check_open()
        self._write([data])

    def flush(self) -> bool:
        """Send what is queued (waiting as the socket's mode says); True when
        nothing is left."""
        self._check_open()
        return self._write([])

    @property
    def pending_output(self) -> int:
        """Bytes queued and not yet sent."""
        return self._out_size

    @property
    def wants_write(self) -> bool:
        """Whether output is queued (for a select() writers list)."""
        return self._out_size > 0

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
                call = _waiting.Call(self._sock)
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

    @property
    def socket(self) -> _Socket | None:
        """The socket (None once closed or detached)."""
        return self._sock

    def fileno(self) -> int:
        """The socket's descriptor (for selectors)."""
        return self._check_open().fileno()

    def shutdown_write(self) -> None:
        """Send what is queued, then tell the peer that nothing more is coming;
        this side goes on receiving."""
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        self._check_open().shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Close the socket (idempotent); queued output is dropped.  A call
        in another thread is woken and raises ``OSError(EBADF)``; the
        descriptor is closed once that call has returned."""
        sock = self._sock
        if sock is None:
            return
        # _closing is set before the calls are looked at: a call that ends in
        # between then closes the socket itself
        self._closing = sock
        self._sock = None
        del self._out[:]
        self._out_pos = self._out_size = 0
        if self._receiving.locked() or self._sending.locked():
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
        if sock is not None and not self._receiving.locked() and not self._sending.locked():
            self._closing = None
            sock.close()  # (two threads may both get here: closing twice is harmless)

    def detach(self) -> tuple[_Socket, bytes]:
        """Give the socket back with every byte received and not returned;
        this FramedSocket is closed afterwards."""
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        if self._receiving.locked():
            raise _messages.busy("receiving")
        sock = self._check_open()
        held = self._dec.detach() + self._rest[self._rest_pos :]
        self._rest = b""
        self._rest_pos = 0
        self._sock = None
        return sock, held

    def __enter__(self) -> FramedSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._sock is None:
            return f"<FramedSocket closed {self._framer!r}>"
        return f"<FramedSocket fd={self._sock.fileno()} {self._framer!r}>"

    def _check_open(self) -> _Socket:
        if self._sock is None:
            raise _messages.closed()
        return self._sock
