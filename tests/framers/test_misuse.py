"""The decoder and encoder used wrongly, on each implementation: a Decoder made
directly, get_buffer and buffer_updated out of order or out of range, and
arguments that are not bytes-like or not contiguous, refused by both cores in the
same words."""

from __future__ import annotations

from typing import Any

import pytest

import fastframe as ff
from fastframe import _messages
from tests.support.calls import E, raises

FRAMERS = [
    ff.LengthPrefixed(4),
    ff.LengthPrefixed(2, offset=1),
    ff.Lines(),
    ff.Delimited(b"--"),
    ff.FixedSize(3),
    ff.Netstring(),
    ff.VarintPrefixed(),
]

# -- Decoder made directly ------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), (ff.Lines(),), (1024,)], ids=["no-arguments", "a-framer", "a-size"])
def test_a_decoder_cannot_be_made_directly(impl: Any, args: tuple[Any, ...]) -> None:
    """Decoder is the base of the framings' decoders: made directly, it was
    accepted and its feed() raised an empty NotImplementedError."""
    decoder_class = impl.module.Decoder
    for make in (decoder_class, decoder_class.__new__):
        exc = raises(make, *((decoder_class,) if make is decoder_class.__new__ else ()), *args)
        assert E(exc) == E(_messages.decoder_made_directly())
        assert isinstance(exc, TypeError)
        assert "cannot be made directly" in str(exc)  # what was wrong
        assert "Use framer.decoder()" in str(exc)  # what to do


@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_a_framer_s_decoder_is_a_decoder(impl: Any, framer: Any) -> None:
    dec = impl.decoder(framer)
    assert isinstance(dec, impl.module.Decoder)
    head = (b"Q",) if getattr(framer, "offset", 0) else ()
    assert dec.feed(impl.codec(framer).encode(b"abc", *head)) == [b"abc"]


def test_fastframe_decoder_is_the_selected_core_s() -> None:
    assert isinstance(ff.Lines().decoder(), ff.Decoder)
    with pytest.raises(TypeError, match=r"^fastframe\.Decoder cannot be made directly: .* Use framer\.decoder\(\)"):
        ff.Decoder(ff.Lines())  # type: ignore[arg-type]


# -- get_buffer / buffer_updated misuse ---------------------------------------------------------


@pytest.mark.parametrize("sizehint", [-1, 0, 1, 100, 70_000, 300_000])
def test_get_buffer_gives_a_writable_view(impl: Any, sizehint: int) -> None:
    dec = impl.decoder(ff.LengthPrefixed(1))
    view = dec.get_buffer(sizehint)
    assert isinstance(view, memoryview)
    assert not view.readonly
    assert view.ndim == 1 and view.itemsize == 1
    assert len(view) >= max(sizehint, 1)
    view[:3] = b"\x02ab"
    assert dec.buffer_updated(3) == [b"ab"]


def test_buffer_updated_uses_the_last_view(impl: Any) -> None:
    dec = impl.decoder(ff.LengthPrefixed(1))
    dec.get_buffer(10)[:2] = b"\x01a"
    dec.get_buffer(10)[:2] = b"\x01b"
    assert dec.buffer_updated(2) == [b"b"]
    view = dec.get_buffer(10)
    view[:1] = b"\x01"
    assert dec.buffer_updated(1) == []
    view = dec.get_buffer(10)
    view[:1] = b"c"
    assert dec.buffer_updated(1) == [b"c"]


def test_buffer_updated_zero_bytes(impl: Any) -> None:
    dec = impl.decoder(ff.Lines())
    dec.get_buffer(-1)
    assert dec.buffer_updated(0) == []
    assert dec.buffered == 0


@pytest.mark.parametrize("between", ["nothing", "feed", "buffer_updated", "eof", "detach"])
def test_buffer_updated_needs_get_buffer_first(impl: Any, between: str) -> None:
    dec = impl.decoder(ff.Lines())
    if between != "nothing":
        dec.get_buffer(10)[:2] = b"a\n"
        if between == "feed":
            dec.feed(b"b")
        elif between == "buffer_updated":
            assert dec.buffer_updated(2) == [b"a"]
        elif between == "eof":
            assert dec.eof() == []
        else:
            assert dec.detach() == b""
    buffered = dec.buffered
    exc = raises(dec.buffer_updated, 1)
    assert E(exc) == E(_messages.buffer_updated_first())
    assert dec.buffered == buffered


@pytest.mark.parametrize("delta", [-1, 1])
def test_buffer_updated_out_of_range(impl: Any, delta: int) -> None:
    dec = impl.decoder(ff.LengthPrefixed(1))
    assert dec.feed(b"\x05ab") == []
    view = dec.get_buffer(5)
    n = -1 if delta < 0 else len(view) + 1
    exc = raises(dec.buffer_updated, n)
    assert E(exc) == E(_messages.nbytes_out_of_range(len(view), n))
    assert dec.buffered == 3


@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
@pytest.mark.parametrize("call", ["encode", "encode_many", "feed"])
@pytest.mark.parametrize("payload", ["abc", 5, None], ids=["str", "int", "None"])
def test_what_is_not_bytes_like_is_refused_in_the_same_words(impl: Any, framer: Any, call: str, payload: Any) -> None:
    """Both cores say what they got and what to do: the compiled core said
    "a bytes-like object is required", the twin too, or (encode_many, int)
    "object of type 'int' has no len()"."""
    codec = impl.codec(framer)
    head = (b"Q",) if getattr(framer, "offset", 0) else ()
    if call == "encode":
        exc = raises(codec.encode, payload, *head)
    elif call == "encode_many":
        exc = raises(codec.encode_many, [b"xyz", payload], *head)
    else:
        exc = raises(codec.decoder().feed, payload)
    assert E(exc) == E(_messages.not_bytes_like(payload))
    assert isinstance(exc, TypeError)
    assert f"expected a bytes-like object, got {type(payload).__name__}: " in str(exc)  # what was wrong
    if isinstance(payload, str):  # what to do
        assert str(exc).endswith("encode it first, e.g. data.encode()")
    else:
        assert str(exc).endswith("pass bytes, a bytearray, a memoryview or another object with the buffer protocol")


def test_a_head_that_is_not_bytes_like_is_refused_in_the_same_words(impl: Any) -> None:
    codec = impl.codec(ff.LengthPrefixed(2, offset=1))
    for call, payloads in ((codec.encode, b"x"), (codec.encode_many, [b"x"])):
        exc = raises(call, payloads, "Q")
        assert E(exc) == E(_messages.not_bytes_like("Q"))


@pytest.mark.parametrize(
    "framer",
    [ff.LengthPrefixed(4), ff.LengthPrefixed(2, offset=1), ff.Lines(), ff.FixedSize(3), ff.Netstring(), ff.VarintPrefixed()],
    ids=repr,
)
@pytest.mark.parametrize("call", ["encode", "encode_many", "feed"])
def test_a_non_contiguous_buffer_is_refused_in_the_same_words(impl: Any, framer: Any, call: str) -> None:
    """A strided memoryview is bytes-like but not contiguous: BufferError from both
    cores (the compiled core asks the buffer API for a simple buffer).  The twin
    raised TypeError ("sequence item 2: ..."), and FixedSize.encode took it."""
    codec = impl.codec(framer)
    head = (b"Q",) if getattr(framer, "offset", 0) else ()
    strided = memoryview(b"aXbXcX")[::2]
    with pytest.raises(BufferError) as info:
        if call == "encode":
            codec.encode(strided, *head)
        elif call == "encode_many":
            codec.encode_many([b"xyz", strided], *head)
        else:
            codec.decoder().feed(strided)
    assert str(info.value) == "memoryview: underlying buffer is not C-contiguous"
