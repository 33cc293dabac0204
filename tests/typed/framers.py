"""Framers, their decoders and the exceptions, as docs/framers/ use them."""

from __future__ import annotations

from typing import Literal

from typing_extensions import assert_type

import fastframe as ff
from fastframe.errors import FastframeError


def framers() -> None:
    postgres = ff.LengthPrefixed(4, offset=1, adjustment=-4)
    assert_type(postgres.encode(b"SELECT 1", head=b"Q"), bytes)
    assert_type(postgres.encode_many([b"a", b"b"], head=b"Q"), bytes)
    assert_type(ff.LengthPrefixed(2, byteorder="little").byteorder, Literal["big", "little"])
    assert_type(ff.Delimited(b"\r\n", keep=True).encode(b"line"), bytes)
    assert_type(ff.Lines(max_size=1024).encode_many([b"a", b"b"]), bytes)
    assert_type(ff.FixedSize(16).max_size, int)
    assert_type(ff.Netstring().decoder(), ff.Decoder)
    framer: ff.Framer = ff.VarintPrefixed()
    assert_type(framer.encode(bytearray(b"x")), bytes)


def wrong_framers() -> None:
    ff.LengthPrefixed("4")  # type: ignore[arg-type]
    ff.LengthPrefixed(4, byteorder="middle")  # type: ignore[arg-type]
    ff.LengthPrefixed(4, "little")  # type: ignore[call-arg]
    ff.Delimited("\n")  # type: ignore[arg-type]
    ff.FixedSize()  # type: ignore[call-arg]
    ff.Lines(1024)  # type: ignore[call-arg]
    ff.Lines().encode(b"x", head=b"Q")  # type: ignore[call-arg]
    ff.Lines().encode("text")  # type: ignore[arg-type]


def decoding(chunks: list[bytes]) -> list[bytes]:
    decoder = ff.LengthPrefixed(4).decoder()
    frames: list[bytes] = []
    for chunk in chunks:
        frames += decoder.feed(chunk)
    view = decoder.get_buffer(4096)
    assert_type(view, memoryview)
    frames += decoder.buffer_updated(0)
    assert_type(decoder.buffered, int)
    assert_type(decoder.eof(), list[bytes])
    assert_type(decoder.detach(), bytes)
    decoder.feed("text")  # type: ignore[arg-type]
    return frames


def errors(decoder: ff.Decoder) -> None:
    try:
        decoder.eof()
    except ff.IncompleteFrame as exc:
        assert_type(exc.partial, bytes)
        assert_type(exc.expected, int | None)
    except ff.FrameTooLarge as exc:
        assert_type(exc.size, int)
        assert_type(exc.max_size, int)
        invalid: ValueError = exc
        del invalid
    except ff.ConnectionClosed as exc:
        closed: EOFError = exc
        del closed
    except FastframeError as exc:
        assert_type(exc, FastframeError)
