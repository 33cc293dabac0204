"""FramedSocket receiving whole frames, on each core and over each transport
(socketpair, TCP on 127.0.0.1 and ::1, AF_UNIX): a peer trickling one byte at a
time, ten thousand frames in one write, frames cut at every read boundary (small and
>= 64 KiB frames), switching framing or reading raw bytes mid-stream, and the
buffer rules of recv / recv_many / iteration."""

from __future__ import annotations

import random
import socket
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastframe as ff
from fastframe.errors import ConnectionClosed
from tests.support.calls import split
from tests.support.samples import FRAMERS
from tests.support.sockets import (  # noqa: F401 - fixtures
    MiB,
    drain_frames,
    framed,
    fresh_pair,
    later,
    peer,
    send_and_close,
    send_chunks,
    transport,
    transport_kind,
)
from tests.support.strategies import IMPL_SETTINGS, heads, payloads
from tests.support.wire import expect, wire_of

SOCKET_SETTINGS = settings(IMPL_SETTINGS, deadline=None, max_examples=20)
LARGE_SETTINGS = settings(IMPL_SETTINGS, deadline=None, max_examples=5)

HOW = ["recv", "recv_many", "iter"]


def sample_payloads(framer: Any) -> list[bytes]:
    """A fixed mix of payloads that ``framer`` can encode (empty, short, 300 bytes)."""
    if isinstance(framer, ff.FixedSize):
        return [bytes([i]) * framer.size for i in range(12)]
    candidates = [b"", b"a", b"hello", b"x" * 300, bytes(range(256)), b"a\rb", b"<EN", b"\r\n\r", b"12:"]
    candidates = [c for c in candidates for _ in range(2)]
    return [c for c in candidates if expect(framer, c, b"H" * getattr(framer, "offset", 0)).ok]


# -- a peer that sends one byte at a time ------------------------------------------------


@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_peer_sending_one_byte_at_a_time(impl: Any, transport: Any, framer: Any) -> None:
    """Every frame arrives whole and in order when each byte is its own send()."""
    a, b = transport
    wire, frames = wire_of(framer, sample_payloads(framer))
    fs = framed(impl, a, framer)
    p = peer(send_chunks, b, [wire[i : i + 1] for i in range(len(wire))])
    assert drain_frames(fs, "recv") == frames
    p.finish()


def test_one_byte_at_a_time_through_recv_many_and_raw_reads(impl: Any, transport: Any) -> None:
    """recv_many and the raw reads wait across one-byte reads too."""
    a, b = transport
    framer = ff.LengthPrefixed(2)
    wire = b"\x00\x03abc" + b"HEAD\r\n\r\n" + b"12345" + b"\x00\x00" + b"tail"
    fs = framed(impl, a, framer)
    p = peer(send_chunks, b, [wire[i : i + 1] for i in range(len(wire))])
    assert fs.recv_many() == [b"abc"]
    assert fs.recv_until(b"\r\n\r\n") == b"HEAD"
    assert fs.recv_exactly(5) == b"12345"
    assert fs.recv_many() == [b""]
    assert fs.recv_until_eof() == b"tail"
    p.finish()


# -- ten thousand frames in one write -------------------------------------------------------


@pytest.mark.parametrize("framer", [ff.LengthPrefixed(2), ff.Lines(), ff.VarintPrefixed()], ids=repr)
@pytest.mark.parametrize("how", HOW)
def test_ten_thousand_frames_in_one_write(impl: Any, transport: Any, framer: Any, how: str) -> None:
    """sendall(encode_many(10 000 payloads)) comes out as those 10 000 frames, in order."""
    a, b = transport
    sent = [b"frame %d " % i * (i % 4) for i in range(10_000)]
    fs = framed(impl, a, framer)
    p = send_and_close(b, framer.encode_many(sent))
    got = drain_frames(fs, how)
    assert len(got) == len(sent)
    assert got == sent
    p.finish()


# -- frames across every read boundary --------------------------------------------------------


@st.composite
def framed_stream(draw: st.DrawFn, framer: Any) -> tuple[bytes, list[bytes]]:
    """Wire bytes of a random list of valid payloads, and the frames they decode to."""
    wire, frames = b"", []
    for payload in draw(st.lists(payloads(framer, extra=0), max_size=12)):
        outcome = expect(framer, payload, draw(heads(framer)))
        if outcome.ok:
            wire += outcome.wire  # type: ignore[operator]
            frames.append(outcome.frame)
    return wire, frames


@st.composite
def cut_up(draw: st.DrawFn, data: bytes, most: int = 16) -> list[bytes]:
    """``data`` cut at up to ``most`` random points (sometimes byte by byte if short)."""
    if data and len(data) <= 200 and draw(st.integers(0, 7)) == 0:
        return [data[i : i + 1] for i in range(len(data))]
    return split(data, draw(st.lists(st.integers(0, len(data)), max_size=most)))


@SOCKET_SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_frames_across_every_read_boundary(
    impl: Any, transport_kind: str, tmp_path: Path, framer: Any, data: st.DataObject
) -> None:
    """Random payloads, their wire cut anywhere and sent chunk by chunk: the reader
    gets exactly the frames, whichever way it reads (recv, recv_many, iteration)."""
    wire, frames = data.draw(framed_stream(framer), label="stream")
    chunks = data.draw(cut_up(wire), label="chunks")
    how = data.draw(st.sampled_from(HOW), label="how")
    with fresh_pair(transport_kind, tmp_path) as (a, b):
        fs = framed(impl, a, framer)
        p = peer(send_chunks, b, chunks)
        assert drain_frames(fs, how) == frames
        p.finish()


LARGE_FRAMERS = [
    ff.LengthPrefixed(4),
    ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0),
    ff.VarintPrefixed(),
    ff.Netstring(),
    ff.Lines(),
    ff.Delimited(b"<END>"),
    ff.FixedSize(70_000),
]

# maps every byte to one that is neither a delimiter byte nor b"\r"
NO_DELIMITER = bytes(range(256)).translate(None, b"\r\n<")
NO_DELIMITER = bytes(NO_DELIMITER[i % len(NO_DELIMITER)] for i in range(256))


def payload_of(size: int, seed: int, framer: Any) -> bytes:
    data = random.Random(seed).randbytes(size)
    if isinstance(framer, (ff.Lines, ff.Delimited)):
        data = data.translate(NO_DELIMITER)
    return data


@st.composite
def large_stream(draw: st.DrawFn, framer: Any) -> tuple[bytes, list[bytes]]:
    if isinstance(framer, ff.FixedSize):
        sizes = [framer.size] * draw(st.integers(1, 4))
    else:
        small = st.integers(0, 100)
        edge = st.integers(64 * 1024 - 8, 64 * 1024 + 8)
        big = st.integers(64 * 1024, MiB)
        sizes = draw(st.lists(st.one_of(small, edge, big), min_size=1, max_size=4))
        sizes.insert(draw(st.integers(0, len(sizes))), draw(st.one_of(edge, big)))
    seed = draw(st.integers(0, 2**32))
    head = b"Q" * getattr(framer, "offset", 0)
    return wire_of(framer, [payload_of(n, seed + i, framer) for i, n in enumerate(sizes)], head)


@LARGE_SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("framer", LARGE_FRAMERS, ids=repr)
def test_large_frames_across_read_boundaries(
    impl: Any, transport_kind: str, tmp_path: Path, framer: Any, data: st.DataObject
) -> None:
    """Frames of 64 KiB .. 1 MiB (the large-frame path) among small ones, the wire
    cut at random points: every frame comes out whole."""
    wire, frames = data.draw(large_stream(framer), label="stream")
    chunks = data.draw(cut_up(wire, most=24), label="chunks")
    how = data.draw(st.sampled_from(HOW), label="how")
    with fresh_pair(transport_kind, tmp_path) as (a, b):
        fs = framed(impl, a, framer)
        p = peer(send_chunks, b, chunks)
        got = drain_frames(fs, how)
        assert [len(f) for f in got] == [len(f) for f in frames]
        assert got == frames
        p.finish()


# -- switching framing and raw reads mid-stream ----------------------------------------------


def test_framer_switch_mid_stream(impl: Any, transport: Any) -> None:
    """Lines, then `fs.framer = LengthPrefixed(4)`: the length-prefixed frames that
    arrived in the same read as the lines are decoded with the new framing."""
    a, b = transport
    lp = ff.LengthPrefixed(4)
    stream = b"HELLO 1\r\nmode: binary\n\n" + b"".join(len(p).to_bytes(4, "big") + p for p in (b"one", b"", b"\n\n3"))
    fs = framed(impl, a, ff.Lines())
    b.sendall(stream)  # one write, already here before the first recv()
    p = peer(send_chunks, b, [b"\x00\x00\x00\x04four"])
    assert [fs.recv(), fs.recv(), fs.recv()] == [b"HELLO 1", b"mode: binary", b""]
    assert fs.framer == ff.Lines()
    fs.framer = lp
    assert fs.framer is lp
    assert drain_frames(fs, "recv") == [b"one", b"", b"\n\n3", b"four"]
    p.finish()


def test_framer_switch_after_recv_many(impl: Any, transport: Any) -> None:
    """recv_many returns every complete frame: what it leaves buffered is only the
    unfinished one, and the new framer decodes it from its first byte."""
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"a\nb\nc\n\x00\x02")
    assert fs.recv_many() == [b"a", b"b", b"c"]
    assert fs.buffered == 2
    fs.framer = ff.LengthPrefixed(2)
    b.sendall(b"xy\x00\x00")
    assert fs.recv() == b"xy"
    assert fs.recv() == b""


def test_type_byte_then_frame(impl: Any, transport: Any) -> None:
    """recv_exactly(1) reads a type byte, recv() the frame after it, alternately."""
    a, b = transport
    fs = framed(impl, a, ff.LengthPrefixed(4))
    messages = [(b"A", b"first"), (b"B", b""), (b"C", b"x" * 100_000), (b"D", b"last")]
    p = send_and_close(b, b"".join(t + len(m).to_bytes(4, "big") + m for t, m in messages))
    got = [(fs.recv_exactly(1), fs.recv()) for _ in messages]
    assert got == messages
    with pytest.raises(ConnectionClosed) as info:
        fs.recv_exactly(1)
    assert type(info.value) is ConnectionClosed
    p.finish()


def test_http_like_header_body_rest(impl: Any, transport: Any) -> None:
    """recv_until a blank line, recv_exactly the body it announces, then a framed
    reply, then recv_until_eof: one buffer, nothing lost or read twice."""
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    body = bytes(range(256)) * 40
    stream = b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body + b"line one\r\nline two\n" + b"rest\x00" * 3
    p = send_and_close(b, stream)
    head = fs.recv_until(b"\r\n\r\n")
    assert head == b"POST / HTTP/1.1\r\nContent-Length: 10240"
    assert fs.recv_exactly(int(head.rsplit(b" ", 1)[1])) == body
    assert fs.recv() == b"line one"
    assert fs.recv_until(b"\n", keep=True) == b"line two\n"
    assert fs.recv_until_eof() == b"rest\x00" * 3
    assert fs.recv_until_eof() == b""
    p.finish()


def test_raw_reads_on_the_same_buffer_as_frames(impl: Any, transport: Any) -> None:
    """Bytes already buffered by a framed read are served to the raw reads first."""
    a, b = transport
    fs = framed(impl, a, ff.Netstring())
    b.sendall(b"3:abc,RAW--5:hello,tail;")
    assert fs.recv() == b"abc"
    assert fs.recv_exactly(0) == b""
    assert fs.recv_exactly(3) == b"RAW"
    assert fs.recv_until(b"--") == b""
    assert fs.recv() == b"hello"  # (recv_many would decode "tail;" as a netstring)
    assert fs.recv_until(b";", keep=True) == b"tail;"
    assert fs.buffered == 0


# -- what recv / recv_many / iteration return ----------------------------------------------------


def test_recv_returns_one_frame_and_keeps_the_rest_buffered(impl: Any, transport: Any) -> None:
    """recv() cuts one frame; the rest of what arrived stays in fs.buffered."""
    a, b = transport
    fs = framed(impl, a, ff.LengthPrefixed(2))
    b.sendall(b"\x00\x01a\x00\x02bc\x00\x05xy")
    assert fs.recv() == b"a"
    assert fs.buffered == 4 + 4
    assert fs.recv() == b"bc"
    assert fs.buffered == 4


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_recv_many_max_frames(impl: Any, transport: Any, k: int) -> None:
    """recv_many(max_frames=k) returns at most k frames, the first k of those complete."""
    a, b = transport
    sent = [b"%d" % i for i in range(7)]
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"".join(s + b"\n" for s in sent))
    got = fs.recv_many(max_frames=k)
    assert got == sent[:k]
    rest: list[bytes] = []
    while len(got) + len(rest) < len(sent):
        more = fs.recv_many(max_frames=k)
        assert 1 <= len(more) <= k
        rest += more
    assert got + rest == sent
    assert fs.buffered == 0


def test_recv_many_waits_for_a_whole_frame(impl: Any, transport: Any) -> None:
    """Blocking recv_many never returns []: half a frame buffered, it waits for the rest."""
    a, b = transport
    fs = framed(impl, a, ff.LengthPrefixed(4))
    b.sendall(b"\x00\x00\x00\x05he")
    timer = later(0.1, b.sendall, b"llo\x00\x00\x00\x01!")
    got = fs.recv_many()
    assert got[0] == b"hello"
    if len(got) == 1:
        got += fs.recv_many()
    assert got == [b"hello", b"!"]
    timer.finish()


def test_recv_many_in_timeout_mode_waits_too(impl: Any, transport: Any) -> None:
    """The same with sock.settimeout(): at least one frame, never []."""
    a, b = transport
    a.settimeout(5)
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"par")
    timer = later(0.1, b.sendall, b"tial\n")
    assert fs.recv_many() == [b"partial"]
    timer.finish()


def test_iteration_ends_at_clean_eof(impl: Any, transport: Any) -> None:
    """`for frame in fs` stops at ConnectionClosed; a second loop yields nothing."""
    a, b = transport
    fs = framed(impl, a, ff.Netstring())
    p = send_and_close(b, b"1:a,0:,3:xyz,")
    assert [frame for frame in fs] == [b"a", b"", b"xyz"]  # noqa: C416 - a for loop, as users write it
    assert list(fs) == []
    assert iter(fs) is not None
    p.finish()


def test_frames_are_bytes_owned_by_the_caller(impl: Any, transport: Any) -> None:
    """Frames are plain bytes that later receives do not change."""
    a, b = transport
    fs = framed(impl, a, ff.FixedSize(4))
    b.sendall(b"aaaabbbb")
    first = fs.recv()
    many = fs.recv_many()
    sender = peer(b.sendall, b"cccc" * 50_000)  # a thread: more than macOS's 8 KiB socket buffers
    rest = [fs.recv_exactly(4) for _ in range(3)]
    assert [first, many, rest] == [b"aaaa", [b"bbbb"], [b"cccc"] * 3]
    assert type(first) is bytes and type(many[0]) is bytes
    assert fs.recv_exactly(4 * (50_000 - 3)) == b"cccc" * (50_000 - 3)
    sender.finish()



# -- memory between reads ----------------------------------------------------------------


@pytest.mark.parametrize("blocking", [False, True], ids=["non-blocking", "blocking"])
def test_memory_a_connection_keeps_between_reads(impl: Any, blocking: bool) -> None:
    """On a non-blocking socket, a receive that leaves nothing held keeps no
    receive buffer: 100 connections that have each read a 128 KiB burst hold next to
    nothing between reads (the compiled core kept its 64 KiB+ buffer each).  A
    blocking socket may keep one buffer: its thread is its only reader."""
    framer = ff.LengthPrefixed(4)
    burst = framer.encode_many([b"b" * 1000] * 131)  # 131 524 bytes
    pairs = [socket.socketpair() for _ in range(100)]
    try:
        tracemalloc.start()
        sockets = []
        for a, b in pairs:
            a.setblocking(blocking)
            fs = framed(impl, a, framer)
            sockets.append(fs)
            b.sendall(burst)
            frames: list[bytes] = []
            while len(frames) < 131:
                frames += fs.recv_many()
            assert frames == [b"b" * 1000] * 131
            del frames
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        bound = 100 * (4 * 1024 if not blocking else 300 * 1024)
        assert held < bound, f"{held / 100:.0f} bytes per connection"
    finally:
        for a, b in pairs:
            a.close()
            b.close()
