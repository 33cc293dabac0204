"""The exceptions: their hierarchy and attributes, pickled too; and an error a
decoder raised is freed with its last reference (no cycle waits for the collector),
on each implementation."""

from __future__ import annotations

import gc
import pickle
from typing import Any

import pytest

import fastframe as ff
from fastframe.errors import ConnectionClosed, FastframeError, FrameTooLarge, IncompleteFrame, ProtocolError

# -- the exceptions ---------------------------------------------------------------------


def test_exception_hierarchy() -> None:
    assert issubclass(FrameTooLarge, FastframeError) and issubclass(FrameTooLarge, ValueError)
    assert issubclass(ProtocolError, FastframeError) and issubclass(ProtocolError, ValueError)
    assert issubclass(ConnectionClosed, FastframeError) and issubclass(ConnectionClosed, EOFError)
    assert issubclass(IncompleteFrame, ConnectionClosed)
    assert ff.FrameTooLarge is FrameTooLarge and ff.IncompleteFrame is IncompleteFrame


def test_exception_attributes_and_pickling() -> None:
    big = FrameTooLarge(2**64 + 4, 10)
    assert (big.size, big.max_size, big.args) == (2**64 + 4, 10, (2**64 + 4, 10))
    cut = IncompleteFrame(b"\x00\x05ab", 7)
    assert (cut.partial, cut.expected) == (b"\x00\x05ab", 7)
    assert IncompleteFrame(b"ab", None).expected is None
    for exc in (big, cut, ProtocolError("bad"), ConnectionClosed()):
        clone = pickle.loads(pickle.dumps(exc))
        assert type(clone) is type(exc) and clone.args == exc.args
    assert "10" in str(big) and "7" in str(cut)


def _raised(call: Any, *args: Any) -> type[BaseException] | None:
    # no pytest.raises: its ExceptionInfo would itself make a cycle with this frame
    try:
        call(*args)
    except ff.FastframeError as exc:
        return type(exc)
    return None


@pytest.mark.parametrize(
    ("framer", "feed", "first", "then"),
    [
        (ff.LengthPrefixed(4), b"\x00\x00\x01\x00" + b"x" * 100, "eof", IncompleteFrame),
        (ff.LengthPrefixed(1, max_size=4), b"\x02ab\x09too big!!\x01c", "frames", FrameTooLarge),
        (ff.Netstring(), b"1:a,x:", "frames", ProtocolError),
    ],
    ids=["incomplete", "oversize-after-frames", "protocol-error-after-frames"],
)
def test_raising_makes_no_reference_cycle(impl: Any, framer: Any, feed: bytes, first: str, then: type) -> None:
    """A raised error is freed with its last reference, and the bytes a decoder
    held with it: no cycle (exception, traceback, frame) waits for the collector."""

    def use() -> None:
        dec = impl.decoder(framer)
        if first == "eof":
            dec.feed(feed)
            assert _raised(dec.eof) is then
        else:
            assert dec.feed(feed) != []  # the frames before the error
            assert _raised(dec.feed, b"") is then
            assert _raised(dec.eof) in (None, then)

    gc.collect()
    gc.disable()
    try:
        use()
        assert gc.collect() == 0
    finally:
        gc.enable()
