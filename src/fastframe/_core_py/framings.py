"""A decoder per framing: how it cuts whole frames out of bytes, what a held
unfinished frame still needs, and what its header announces (the hooks decode.py's
Decoder leaves to them)."""

from __future__ import annotations

import struct
from itertools import accumulate
from typing import Any

from .. import _messages
from .._limits import NETSTRING_DIGITS, VARINT_MAX
from .decode import NO_QUOTA, Decoder

_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}


class _OddField:
    """A length field of 3, 5, 6 or 7 bytes, which struct has no format for, with
    the two methods of struct.Struct the decoder and encoder call.

    A field is read as the next width struct has (4 or 8 bytes) and the bytes past
    it shifted or masked away: one struct call, where int.from_bytes on a slice
    costs a copy and a call more.  Only a field among the buffer's last bytes is
    read the slow way."""

    __slots__ = ("_wide", "_shift", "_mask", "_width", "_order")

    def __init__(self, width: int, byteorder: str) -> None:
        wide = 4 if width < 4 else 8
        big = byteorder == "big"
        self._wide = struct.Struct((">" if big else "<") + _FORMATS[wide]).unpack_from
        self._shift = 8 * (wide - width) if big else 0  # big-endian: the extra bytes are the low ones
        self._mask = (1 << 8 * width) - 1
        self._width = width
        self._order: Any = byteorder

    def unpack_from(self, data: Any, offset: int = 0) -> tuple[int]:
        try:
            (value,) = self._wide(data, offset)
        except struct.error:
            end = offset + self._width
            if len(data) < end:  # a header cut short: as struct says it
                raise
            return (int.from_bytes(data[offset:end], self._order),)
        return ((value >> self._shift) & self._mask,)

    def pack(self, value: int) -> bytes:
        return value.to_bytes(self._width, self._order)


class _LengthFormat:
    """Shared option arithmetic of LengthPrefixed's decoder and encoder."""

    def __init__(self, framer: Any) -> None:
        code = _FORMATS.get(framer.width)
        self.field: struct.Struct | _OddField = (
            _OddField(framer.width, framer.byteorder)
            if code is None
            else struct.Struct((">" if framer.byteorder == "big" else "<") + code)
        )
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
        self._unpack = fmt.field.unpack_from
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
        if self._plain and self._max >= n and self._quota == NO_QUOTA:
            # A frame that ends inside data is shorter than data, so it cannot
            # exceed a max_size >= len(data): only the last frame needs a check.
            try:
                (size,) = unpack(data, pos)
            except struct.error:
                return pos
            start = pos + hl
            if start + size > n:  # big frames: the first is already cut short
                pos = start + size
            else:
                start, pos = self._whole_frames(data, data, pos, size, frames)
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

    def _cut_run(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        if not self._plain or self._max < len(data):
            return super()._cut_run(data, pos, frames)
        # [length][body]: every frame whole in data, as _cut's loop cuts them
        # (none can be over max_size), and _run_wire needs no cut
        try:
            (size,) = self._unpack(data, pos)
        except struct.error:
            return pos
        if pos + self._hl + size > len(data):
            return pos  # cut() collects it
        start, pos = self._whole_frames(data, data, pos, size, frames)
        if pos <= len(data):  # [start:pos] is whole too
            frames.append(data[start:pos])
            return pos
        return start - self._hl

    def _run_wire(self, left: int) -> int:
        # A frame is its wire bytes but the first strip ones.  The marks are
        # the sums of the lengths of _ahead's first frames (the run's last), so
        # they stay true as the loop pops from its end.
        marks = self._run_marks
        if marks is None:
            marks = self._run_marks = list(accumulate(map(len, self._ahead or ())))
        return marks[left - 1] + self._strip * left

    def _whole_frames(self, within: Any, data: bytes, pos: int, size: int, frames: list[bytes]) -> tuple[int, int]:
        """Cut [length][body] frames from pos (``size``: the first one's length,
        read) while the next header reads within ``within`` (data, or a view
        of its first bytes): a frame followed by a header read is whole, so
        the loop needs no bounds test.  Returns where the body of the last
        frame, not cut, starts and ends (whole or not: the caller decides)."""
        unpack = self._unpack
        hl = self._hl
        append = frames.append
        try:
            while True:
                start = pos + hl
                pos = start + size
                (size,) = unpack(within, pos)
                append(data[start:pos])
        except (struct.error, OverflowError):  # OverflowError: pos past 2**63
            return start, pos

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
        if n - pos < limit and self._quota == NO_QUOTA:
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
                    self._oversize(self._max + 1, 1)
                return pos
            size = end - pos
            if self._strip_cr and size and data[end - 1] == 13:
                size -= 1
            elif self._keep:
                size += dl
            if size > self._max:
                self._oversize(size, 1)
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
        self._skip = 0
        self._scanned = 0
        return pos

    def _expected(self) -> int | None:
        return None


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


class _PrefixedDecoder(Decoder):
    """A length header (_header: decimal or varint), then the body, then (for
    netstrings) the byte _trail."""

    __slots__ = ()
    _trail: int | None = None  # the byte after the body
    _short = 0  # a first byte below this is the whole header, and the length

    def _header(self, data: Any, pos: int) -> tuple[int, int] | None:
        """(length, header size) of the frame at pos; None while incomplete.
        A malformed header sets the error and gives (-1, 0)."""
        raise NotImplementedError

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        n = len(data)
        append = frames.append
        max_size = self._max
        quota = self._quota
        short = self._short
        trail = self._trail
        extra = 0 if trail is None else 1
        while pos < n and len(frames) < quota:
            length = data[pos]
            if length < short:
                hl = 1
            else:
                header = self._header(data, pos)
                if header is None:
                    return pos
                length, hl = header
                if hl == 0:
                    return pos
            if length > max_size:
                self._oversize(length, hl + length + extra)
                return pos
            start = pos + hl
            end = start + length
            if end + extra > n:
                return pos
            if extra and data[end] != trail:
                self._fail(_messages.netstring_no_comma(data[end]))
                return pos
            append(data[start:end])
            pos = end + extra
        return pos

    def _want(self, data: bytes, pos: int) -> int:
        header = self._header(self._buf, 0)
        if header is None:
            return 1
        length, hl = header
        if hl == 0 or length > self._max:
            return 0
        return max(hl + length + (self._trail is not None) - len(self._buf), 0)

    def _layout(self, data: bytes, pos: int) -> tuple[int, int, int | None] | None:
        header = self._header(data, pos)
        if header is None:
            return None
        length, hl = header
        return hl + length + (self._trail is not None), hl, self._trail

    def _expected(self) -> int | None:
        header = self._header(self._buf, 0)
        return None if header is None else header[0] + header[1] + (self._trail is not None)


class NetstringDecoder(_PrefixedDecoder):
    """``b"5:hello,"``: decimal length without leading zeros, ``:``, body, ``,``."""

    __slots__ = ()
    _trail = 44  # b","

    def _header(self, data: Any, pos: int) -> tuple[int, int] | None:
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


class VarintPrefixedDecoder(_PrefixedDecoder):
    """A base-128 varint (least significant group first) then that many bytes."""

    __slots__ = ()
    _short = 0x80

    def _header(self, data: Any, pos: int) -> tuple[int, int] | None:
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
