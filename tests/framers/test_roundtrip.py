"""Round trips on each implementation: random framers and payloads, encoded (and
checked against wire bytes computed from docs/framers/ by tests/support/wire.py),
then decoded from random chunks, through feed() and through
get_buffer()/buffer_updated()."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastframe as ff
from tests.support.calls import (
    Buffer,
    Feed,
    deadline,
    encode_many_with,
    encode_with,
    events,
    frames_of,
    frames_via_buffer,
    split,
)
from tests.support.strategies import IMPL_SETTINGS, chunkings, delimited, framers, heads, max_sizes, ops_for, payloads
from tests.support.wire import delimiter_of, expect


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, bytes, list[bytes], list[Any]]:
    framer = draw(framers())
    head = draw(heads(framer))
    items = draw(st.lists(payloads(framer), max_size=8))
    return framer, head, items, [expect(framer, p, head) for p in items]


def encode_and_check(impl: Any, framer: Any, head: bytes, items: list[bytes], outcomes: list[Any]) -> tuple[bytes, list[bytes]]:
    """Encode each payload, checking wire bytes or refusal; return the wire of
    the accepted ones and the frames it must decode to."""
    codec = impl.codec(framer)
    wire = []
    frames = []
    for payload, outcome in zip(items, outcomes):
        if outcome.ok:
            got = encode_with(codec, framer, payload, head)
            assert type(got) is bytes
            assert got == outcome.wire
            wire.append(got)
            frames.append(outcome.frame)
        else:
            with pytest.raises(Exception) as info:
                encode_with(codec, framer, payload, head)
            outcome.check_error(info.value)
    accepted = [p for p, o in zip(items, outcomes) if o.ok]
    assert encode_many_with(codec, framer, accepted, head) == b"".join(wire)
    refused = [o for o in outcomes if not o.ok]
    if refused:
        # encode_many refuses the whole batch, with the first bad payload's error
        with pytest.raises(Exception) as info:
            encode_many_with(codec, framer, items, head)
        refused[0].check_error(info.value)
    return b"".join(wire), frames


@IMPL_SETTINGS
@given(case=cases(), data=st.data())
def test_roundtrip_feed(impl: Any, case: tuple, data: st.DataObject) -> None:
    framer, head, items, outcomes = case
    wire, frames = encode_and_check(impl, framer, head, items, outcomes)
    chunks = data.draw(chunkings(wire))
    dec = impl.decoder(framer)
    assert frames_of(dec, chunks) == frames
    assert dec.buffered == 0


@IMPL_SETTINGS
@given(case=cases(), data=st.data())
def test_roundtrip_get_buffer(impl: Any, case: tuple, data: st.DataObject) -> None:
    framer, head, items, outcomes = case
    accepted = [o for o in outcomes if o.ok]
    wire = b"".join(o.wire for o in accepted)
    frames = [o.frame for o in accepted]
    chunks = data.draw(chunkings(wire))
    sizehint = data.draw(st.sampled_from([-1, 0, 1, 3, 64, 100_000]))
    assert frames_via_buffer(impl.decoder(framer), chunks, sizehint) == frames
    # feed and get_buffer/buffer_updated mixed on one decoder
    ops = data.draw(ops_for(wire))
    assert events(impl.decoder(framer), ops) == [("frame", f) for f in frames]


@IMPL_SETTINGS
@given(framer=st.one_of(delimited(), max_sizes().map(lambda m: ff.Lines(max_size=m))), data=st.data())
def test_delimited_encode_refuses_exactly_what_would_decode_differently(
    impl: Any, framer: Any, data: st.DataObject
) -> None:
    """Many payloads per framer, weighted towards pieces of the delimiter: encode
    refuses a payload iff the decoder would not give it back as one frame."""
    codec = impl.codec(framer)
    for payload in data.draw(st.lists(payloads(framer), min_size=1, max_size=30)):
        outcome = expect(framer, payload)
        try:
            wire = codec.encode(payload)
        except (ValueError, ff.FrameTooLarge) as exc:
            outcome.check_error(exc)
            continue
        assert outcome.ok, (payload, wire)
        assert wire == outcome.wire
        assert impl.decoder(framer).feed(wire) == [outcome.frame]


def words(alphabet: bytes, longest: int) -> list[bytes]:
    return [bytes(w) for n in range(longest + 1) for w in itertools.product(alphabet, repeat=n)]


@pytest.mark.parametrize("keep", [False, True])
def test_delimited_encode_exhaustive_small_alphabet(impl: Any, keep: bool) -> None:
    """Every delimiter over b"ab" up to 5 bytes x every payload over b"abx" up to
    5 bytes: encode refuses exactly the payloads that would not come back whole."""
    wrong = []
    for delimiter in words(b"ab", 5)[1:]:
        framer = ff.Delimited(delimiter, keep=keep)
        codec = impl.codec(framer)
        for payload in words(b"abx", 5):
            outcome = expect(framer, payload)
            try:
                wire = codec.encode(payload)
            except ValueError:
                if outcome.ok:
                    wrong.append((delimiter, payload, "refused"))
                continue
            if not outcome.ok or wire != outcome.wire:
                wrong.append((delimiter, payload, wire))
            elif impl.decoder(framer).feed(wire) != [outcome.frame]:
                wrong.append((delimiter, payload, "decodes differently"))
    assert wrong == [], f"{len(wrong)} wrong, e.g. {wrong[:5]}"


@IMPL_SETTINGS
@given(case=cases())
def test_roundtrip_public_api(impl: Any, case: tuple) -> None:
    """framer.encode / encode_many / decoder (the implementation picked at import)
    agree with the implementation under test."""
    framer, head, items, outcomes = case
    accepted = [p for p, o in zip(items, outcomes) if o.ok]
    if isinstance(framer, ff.LengthPrefixed):
        wire = framer.encode_many(accepted, head=head)
    else:
        wire = framer.encode_many(accepted)
    assert wire == encode_many_with(impl.codec(framer), framer, accepted, head)
    assert framer.decoder().feed(wire) == impl.decoder(framer).feed(wire)


# -- large frames: past the compiled core's LARGE_FRAME (64 KiB) and RESERVE_AHEAD (1 MiB) ----

LARGE_SIZES = [65535, 65536, 65537, 300_000, 1_100_000, 2_500_000]


def large_payload(framer: Any, n: int, seed: int) -> bytes:
    raw = random.Random(seed).randbytes(n)
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        banned = set(delimiter_of(framer)) | {13}
        allowed = bytes(b for b in range(256) if b not in banned)
        raw = raw.translate(bytes(allowed[b % len(allowed)] for b in range(256)))
    return raw


LARGE_FRAMERS = [
    ff.LengthPrefixed(4, max_size=4 * 2**20),
    ff.LengthPrefixed(8, byteorder="little", offset=2, adjustment=-10, strip=1, max_size=4 * 2**20),
    ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=4 * 2**20),
    ff.Netstring(max_size=4 * 2**20),
    ff.VarintPrefixed(max_size=4 * 2**20),
    ff.Delimited(b"\r\n", max_size=4 * 2**20),
    ff.Lines(max_size=4 * 2**20),
]


@settings(IMPL_SETTINGS, max_examples=12)
@given(
    framer=st.sampled_from(LARGE_FRAMERS),
    n=st.sampled_from(LARGE_SIZES),
    seed=st.integers(0, 2**32),
    data=st.data(),
)
def test_large_frames(impl: Any, framer: Any, n: int, seed: int, data: st.DataObject) -> None:
    head = data.draw(heads(framer))
    payload = large_payload(framer, n, seed)
    small = [b"", b"ab", b"cde"]
    outcomes = [expect(framer, p, head) for p in [small[1], payload, small[2], payload[:70000]]]
    assert all(o.ok for o in outcomes)
    wire, frames = encode_and_check(impl, framer, head, [small[1], payload, small[2], payload[:70000]], outcomes)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=6))
    # header bytes one at a time too
    cuts += data.draw(st.lists(st.integers(0, 12), max_size=4))
    cuts += [len(outcomes[0].wire) + k for k in data.draw(st.lists(st.integers(0, 12), max_size=4))]
    chunks = split(wire, cuts)
    with deadline(30):
        assert frames_of(impl.decoder(framer), chunks) == frames
        sizehint = data.draw(st.sampled_from([-1, 1, 65536, 2**20, 3 * 2**20]))
        assert frames_via_buffer(impl.decoder(framer), chunks, sizehint) == frames


@pytest.mark.parametrize("framer", LARGE_FRAMERS[:5], ids=repr)
def test_large_frame_byte_count_while_filling(impl: Any, framer: Any) -> None:
    head = b"h" * getattr(framer, "offset", 0)
    payload = large_payload(framer, 200_000, 1)
    wire = expect(framer, payload, head).wire
    assert wire is not None
    dec = impl.decoder(framer)
    for i in range(0, len(wire) - 1, 30_000):
        piece = wire[i : min(i + 30_000, len(wire) - 1)]
        if i // 30_000 % 2:
            view = dec.get_buffer(len(piece))
            view[: len(piece)] = piece
            assert dec.buffer_updated(len(piece)) == []
        else:
            assert dec.feed(piece) == []
        assert dec.buffered == min(i + 30_000, len(wire) - 1)
    assert dec.feed(wire[-1:]) == [expect(framer, payload, head).frame]
    assert dec.buffered == 0


@pytest.mark.parametrize("framer", LARGE_FRAMERS, ids=repr)
def test_frames_are_owned_by_the_caller(impl: Any, framer: Any) -> None:
    """A frame handed out never changes, even if the caller writes into a
    get_buffer() view it should have dropped."""
    head = b"h" * getattr(framer, "offset", 0)
    payload = large_payload(framer, 150_000, 2)
    wire = expect(framer, payload, head).wire
    assert wire is not None
    dec = impl.decoder(framer)
    views = []
    frames: list[bytes] = []
    for i in range(0, len(wire), 10_000):
        piece = wire[i : i + 10_000]
        view = dec.get_buffer(len(piece))
        view[: len(piece)] = piece
        views.append(view)
        frames += dec.buffer_updated(len(piece))
    expected = expect(framer, payload, head).frame  # an independent bytes object
    assert frames == [expected]
    for view in views:
        view[:] = b"\x00" * len(view)  # misbehaving caller
    assert frames[0] == expected


@pytest.mark.parametrize("framer", LARGE_FRAMERS, ids=repr)
def test_large_frame_truncated_at_eof(impl: Any, framer: Any) -> None:
    head = b"h" * getattr(framer, "offset", 0)
    payload = large_payload(framer, 100_000, 3)
    wire = expect(framer, payload, head).wire
    assert wire is not None
    for ops in ([Feed(wire[:-1])], [Feed(wire[:50_000]), Buffer(wire[50_000:-1], len(wire))]):
        got = events(impl.decoder(framer), ops)
        assert len(got) == 1 and got[0][1] is ff.IncompleteFrame
        partial, expected = got[0][2]
        assert partial == wire[:-1]
        if isinstance(framer, (ff.Delimited, ff.Lines)):
            assert expected is None
        else:
            assert expected == len(wire)
