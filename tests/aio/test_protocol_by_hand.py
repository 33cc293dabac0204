"""A FramedProtocol fed by hand through get_buffer/buffer_updated, no event loop:
each core's bound framer really selects that core; frames cut at every read
boundary are delivered as soon as their last byte arrives (every split, random
framers and chunkings), also past oversize frames; and a protocol is told exactly
what the sans-IO decoder of the same core yields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import fastframe as ff
from fastframe._cores import CORES
from fastframe.errors import ProtocolError
from tests.aio.frames import OVERSIZE_FRAMERS, SMALL_CANDIDATES, oversize_stream, sample_payloads
from tests.aio.protocols import Recorder, check_every_chunk, ends_of, feed_protocol
from tests.support.calls import F, Feed, every_split
from tests.support.calls import events as decoder_events
from tests.support.samples import FRAMERS
from tests.support.strategies import IMPL_SETTINGS, chunkings, framers, heads, payloads, streams
from tests.support.wire import expect, wire_of

# -- the cores ---------------------------------------------------------------------------------


def test_framers_are_bound_to_each_core(impl: Any) -> None:
    """impl.bind() really selects the core: the decoder a FramedProtocol makes, and
    the codec a FramedWriter encodes with, are that core's."""
    framer = impl.bind(ff.Lines())
    assert framer == ff.Lines()
    proto = Recorder(framer)
    assert type(proto._decoder) is impl.module.DelimitedDecoder
    assert type(framer._codec) is impl.module.DelimitedCodec


# -- FramedProtocol fed by hand -------------------------------------------------------------------


@pytest.mark.parametrize("sizehint", [-1, 65536])
@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_protocol_every_split(impl: Any, framer: Any, sizehint: int) -> None:
    """A small stream fed through get_buffer/buffer_updated whole, byte by byte and
    in every two-piece split (sizehint -1 as asyncio passes, 65536 as uvloop):
    each frame is delivered as soon as its last byte arrives, in order."""
    items = sample_payloads(framer, SMALL_CANDIDATES)
    wires = [wire_of(framer, [p])[0] for p in items]
    frames = wire_of(framer, items)[1]
    wire = b"".join(wires)
    for chunks in every_split(wire):
        proto = check_every_chunk(impl.bind(framer), chunks, frames, ends_of(wires), sizehint)
        assert proto.events == [F(f) for f in frames]


@pytest.mark.parametrize("framer", OVERSIZE_FRAMERS, ids=repr)
def test_protocol_every_split_with_oversize_frames(impl: Any, framer: Any) -> None:
    """A FramedProtocol whose framing_error returns keeps going after FrameTooLarge:
    in every split, each good frame is delivered as soon as its last byte arrives
    (also the frames behind an oversize one in the same read), and in the end the
    events are every good frame and one FrameTooLarge per oversize frame, in
    stream order, nothing lost at EOF.

    BUG (aio.py, FramedProtocol._pump): after framing_error() returns, the frames
    the decoder holds behind the oversize frame are not cut until more bytes
    arrive; at EOF, those behind a second oversize frame are lost."""
    pieces = oversize_stream(framer)
    wire = b"".join(w for w, _ in pieces)
    frames = [e[1] for _, e in pieces if e[0] == "frame"]
    ends = [end for end, (_, e) in zip(ends_of([w for w, _ in pieces]), pieces) if e[0] == "frame"]
    for chunks in every_split(wire):
        proto = check_every_chunk(impl.bind(framer), chunks, frames, ends, -1)
        assert proto.events == [e for _, e in pieces], chunks


@IMPL_SETTINGS
@given(data=st.data())
def test_protocol_random_framers_and_chunkings(impl: Any, data: st.DataObject) -> None:
    """Random framers, payloads and chunkings, fed through get_buffer/buffer_updated
    with random size hints: the frames are the payloads' frames (computed from
    docs/framers/), each delivered as soon as its last byte arrives."""
    framer = data.draw(framers(), label="framer")
    wires: list[bytes] = []
    frames: list[bytes] = []
    for payload in data.draw(st.lists(payloads(framer, extra=0), max_size=10), label="payloads"):
        outcome = expect(framer, payload, data.draw(heads(framer)))
        if outcome.ok:
            wires.append(outcome.wire)  # type: ignore[arg-type]
            frames.append(outcome.frame)  # type: ignore[arg-type]
    chunks = data.draw(chunkings(b"".join(wires)), label="chunks")
    sizehint = data.draw(st.sampled_from([-1, 0, 1, 65536]), label="sizehint")
    proto = check_every_chunk(impl.bind(framer), chunks, frames, ends_of(wires), sizehint)
    assert proto.events == [F(f) for f in frames]


def protocol_events(framer: Any, chunks: Sequence[bytes]) -> list[tuple]:
    """What a Recorder is told for ``chunks`` then EOF, up to the first ProtocolError
    (which repeats for every later read)."""
    proto = Recorder(framer)
    for chunk in chunks:
        feed_protocol(proto, chunk, -1)
    proto.eof_received()
    out = []
    for event in proto.events:
        out.append(event)
        if event[0] == "error" and event[1] is ProtocolError:
            break
    return out


@st.composite
def cut_streams(draw: st.DrawFn) -> tuple[Any, list[bytes]]:
    """A framer and a stream of its frames, garbage and oversize frames, cut anywhere."""
    framer = draw(framers(), label="framer")
    return framer, draw(chunkings(draw(streams(framer), label="stream")), label="chunks")


@IMPL_SETTINGS
@given(case=cut_streams())
# two oversize frames, then an empty frame: found by this test (the frame is lost at EOF)
@example(case=(ff.LengthPrefixed(1, max_size=1), [b"\x02xx\x02xx\x00"]))
def test_protocol_delivers_what_the_decoder_cuts(impl: Any, case: tuple[Any, list[bytes]]) -> None:
    """Random streams with garbage and oversize frames, cut anywhere: a Recorder
    (framing_error returns) is told exactly what the sans-IO decoder of the same
    core yields for those reads then EOF (frames, FrameTooLarge, ProtocolError,
    IncompleteFrame, in order), and the other core's Recorder the same.

    Fails while the FramedProtocol EOF bug above is there (frames held behind a
    FrameTooLarge met at EOF are lost)."""
    framer, chunks = case
    reference = decoder_events(impl.decoder(framer), [Feed(c) for c in chunks])
    assert protocol_events(impl.bind(framer), chunks) == reference
    for core in CORES:
        if core.module is not impl.module:
            assert protocol_events(core.bind(framer), chunks) == reference
