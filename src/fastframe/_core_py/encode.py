"""A codec per framing: encoding, and the framing's decoders.

Each payload goes out after LengthPrefixed's ``head`` and what goes before it
(``_before``, which also refuses a payload the decoder would refuse), and before
what goes after it (``_after``), as the compiled core's codecs write ``_head``,
the payload and ``_tail``.  ``encode_many`` checks every payload before anything is returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .. import _messages
from .._checks import byte_view, nbytes
from .._sending import sequence
from ..errors import FrameTooLarge
from .decode import Decoder
from .framings import (
    DelimitedDecoder,
    FixedSizeDecoder,
    LengthPrefixedDecoder,
    NetstringDecoder,
    VarintPrefixedDecoder,
    _LengthFormat,
)

if TYPE_CHECKING:
    from typing_extensions import Buffer


class _Codec:
    """Encoding machinery.  ``head`` is LengthPrefixed's ``offset`` bytes
    (checked), ``b""`` for every other framing."""

    __slots__ = ()
    _after = b""

    def decoder(self) -> Decoder:
        raise NotImplementedError

    def _before(self, payload: Any) -> bytes:
        """What goes before ``payload`` in its frame, after ``head``; refuses a
        bad payload."""
        raise NotImplementedError

    def _encode(self, payload: Any, head: bytes) -> bytes:
        return b"".join((head, self._before(payload), payload, self._after))

    def _affix(self, payload: Any, head: bytes) -> tuple[bytes, bytes]:
        return head + self._before(payload), self._after

    def _encode_many(self, payloads: Iterable[Any], head: bytes) -> bytes:
        seq = sequence(payloads)
        # Every payload is checked (by _before) before anything is joined; the
        # frames' pieces are interleaved by slice assignment, and pieces that
        # are all empty are left out.
        before = self._before
        befores = [before(payload) for payload in seq]
        columns: list[Any] = [befores, seq] if any(befores) else [seq]
        if head:
            columns.insert(0, [head] * len(seq))
        if self._after:
            columns.append([self._after] * len(seq))
        width = len(columns)
        if width == 1:
            return b"".join(seq)
        parts: list[Any] = [None] * (width * len(seq))
        for i, column in enumerate(columns):
            parts[i::width] = column
        return b"".join(parts)

    def encode(self, payload: Buffer) -> bytes:
        return self._encode(payload, b"")

    def encode_many(self, payloads: Iterable[Buffer]) -> bytes:
        return self._encode_many(payloads, b"")

    def affixes(self, payload: Buffer) -> tuple[bytes, bytes]:
        """(what goes before, what goes after) ``payload`` in its frame."""
        return self._affix(payload, b"")

    def __reduce_ex__(self, protocol: object) -> Any:
        raise _messages.cannot_pickle(self)  # as the compiled core's codecs


class LengthPrefixedCodec(_Codec):
    __slots__ = ("_fmt",)

    def __init__(self, framer: Any) -> None:
        self._fmt = _LengthFormat(framer)

    def decoder(self) -> LengthPrefixedDecoder:
        return LengthPrefixedDecoder(self._fmt)

    def _head(self, head: Any) -> bytes:
        if nbytes(head) != self._fmt.offset:
            raise _messages.head_size(self._fmt.offset, nbytes(head))
        return head if type(head) is bytes else byte_view(head).tobytes()

    def _field(self, n: int) -> bytes:
        fmt = self._fmt
        size = n + fmt.header - fmt.strip
        if size > fmt.encode_max:
            raise FrameTooLarge(size, fmt.encode_max)
        value = n - fmt.adjustment
        if value < 0:
            raise _messages.body_below_adjustment(n, fmt.adjustment)
        return fmt.field.pack(value)

    def _before(self, payload: Any) -> bytes:
        return self._field(nbytes(payload))

    def encode(self, payload: Buffer, head: Buffer = b"") -> bytes:
        return self._encode(payload, self._head(head))

    def affixes(self, payload: Buffer, head: Buffer = b"") -> tuple[bytes, bytes]:
        return self._affix(payload, self._head(head))

    def encode_many(self, payloads: Iterable[Buffer], head: Buffer = b"") -> bytes:
        head = self._head(head)
        payloads = sequence(payloads)
        fmt = self._fmt
        if not fmt.offset and not fmt.adjustment:
            # Every payload's work done by builtins: lengths, headers, interleaving.
            try:
                lengths = list(map(len, payloads))
            except TypeError:  # one has no len(), so is not bytes-like: the loop below says which
                return self._encode_many(payloads, head)
            total = sum(lengths)
            limit = fmt.encode_max - fmt.header + fmt.strip
            if not lengths or total <= limit or max(lengths) <= limit:
                parts: list[Any] = [None] * (2 * len(lengths))
                parts[::2] = map(fmt.field.pack, lengths)
                parts[1::2] = payloads
                try:
                    out = b"".join(parts)
                except TypeError:  # one is not bytes-like: the loop below says which
                    out = None
                # len() counts items, not bytes, for a few buffer types: then check each
                if out is not None and len(out) == total + fmt.header * len(lengths):
                    return out
        return self._encode_many(payloads, head)


class DelimitedCodec(_Codec):
    __slots__ = ("_delim", "_keep", "_strip_cr", "_max", "_after")

    def __init__(self, framer: Any) -> None:
        self._delim = framer.delimiter
        self._keep = framer.keep
        self._strip_cr = framer._strip_cr
        self._max = framer.max_size
        self._after = self._delim

    def decoder(self) -> DelimitedDecoder:
        return DelimitedDecoder(self._delim, self._keep, self._strip_cr, self._max)

    def _before(self, payload: Any) -> bytes:
        delim = self._delim
        data = payload if type(payload) is bytes else byte_view(payload).tobytes()
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
        return b""


class FixedSizeCodec(_Codec):
    __slots__ = ("_size",)

    def __init__(self, framer: Any) -> None:
        self._size = framer.size

    def decoder(self) -> FixedSizeDecoder:
        return FixedSizeDecoder(self._size)

    def _before(self, payload: Any) -> bytes:
        if nbytes(payload) != self._size:
            raise _messages.wrong_fixed_size(self._size, nbytes(payload))
        return b""


class _PrefixedCodec(_Codec):
    """A length header, then the payload, then (netstrings) ``_after``."""

    __slots__ = ("_max",)

    def __init__(self, framer: Any) -> None:
        self._max = framer.max_size


class NetstringCodec(_PrefixedCodec):
    __slots__ = ()
    _after = b","

    def decoder(self) -> NetstringDecoder:
        return NetstringDecoder(self._max)

    def _before(self, payload: Any) -> bytes:
        n = nbytes(payload)
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        return b"%d:" % n


class VarintPrefixedCodec(_PrefixedCodec):
    __slots__ = ()

    def decoder(self) -> VarintPrefixedDecoder:
        return VarintPrefixedDecoder(self._max)

    def _before(self, payload: Any) -> bytes:
        n = nbytes(payload)
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        out = bytearray()
        while n > 0x7F:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out)
