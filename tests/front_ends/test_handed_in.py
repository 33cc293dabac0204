"""Bytes a front end hands in (``_take_in``) to the loop beneath it, several
reads before the loop cuts them, as uvloop brings them: every byte is read
once, in order, by frames and then by a raw read, wherever the reads fall
between the calls (the twin's decoder keeps the reads after the first apart
until a cut, a framer switch or a raw read joins them)."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

import fastframe as ff
from fastframe import _cores, _fed
from tests.support.calls import split

FRAMER = ff.LengthPrefixed(4)


@given(
    payloads=st.lists(st.binary(max_size=40), max_size=12),
    tail=st.binary(max_size=30),
    cuts=st.lists(st.integers(0, 600), max_size=8),
    first=st.integers(0, 8),
    frames=st.integers(0, 12),
)
# three reads before a raw read, no cut between them (the held bytes are handed
# over: detach); two reads while a run of frames is out (it is given back)
@example(payloads=[b"a", b"b", b"c"], tail=b"xyz", cuts=[3, 7], first=0, frames=0)
@example(payloads=[b"a", b"b", b"c", b"d"], tail=b"xyz", cuts=[15, 18], first=1, frames=2)
def test_reads_handed_in_before_a_cut_are_all_read(
    impl: Any, payloads: list[bytes], tail: bytes, cuts: list[int], first: int, frames: int
) -> None:
    """Hand in the first reads, take up to ``frames`` frames, hand in the
    rest, then read every byte left raw: the frames are the payloads' first,
    and the raw read is exactly the wire after them."""
    framer = impl.bind(FRAMER)
    wires = [FRAMER.encode(p) for p in payloads]
    wire = b"".join(wires) + tail
    chunks = split(wire, cuts)
    fs = _cores._framed_socket_class(impl.module)._over(_fed.Fed(), framer)
    try:
        for chunk in chunks[:first]:
            fs._take_in(chunk)
        got: list[bytes] = []
        while len(got) < min(frames, len(payloads)):  # (the tail is no frame)
            try:
                got.append(fs.recv())
            except BlockingIOError:
                break
        for chunk in chunks[first:]:
            fs._take_in(chunk)
        assert got == payloads[: len(got)]
        taken = sum(map(len, wires[: len(got)]))
        assert fs.buffered == len(wire) - taken
        assert fs.recv_exactly(len(wire) - taken) == wire[taken:]
        assert fs.buffered == 0
    finally:
        fs.close()
