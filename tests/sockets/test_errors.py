"""FramedSocket at the end of the stream and on bad input, on each core and over each
transport: EOF between frames, inside a header, inside a body (and again on every
later call), a peer reset, a 4 GiB length header (refused without allocating, the
oversize frame skipped, decoding goes on), the frames-before-error batch rule, sticky
ProtocolError, and the max_size bounds of the raw reads."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import fastframe as ff
from fastframe.errors import ConnectionClosed, FrameTooLarge, IncompleteFrame, ProtocolError
from tests.support.children import MEMORY_CAPPED_CHILD
from tests.support.sockets import (  # noqa: F401 - fixtures
    MiB,
    drain_frames,
    framed,
    needs_detach,
    pair,
    peer,
    reset,
    rss,
    send_and_close,
    send_chunks,
    tcp_transport,
    transport,
)


def closed_exactly(exc: BaseException) -> bool:
    return type(exc) is ConnectionClosed


# -- EOF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["recv", "recv_many", "iter"])
def test_eof_between_frames(impl: Any, transport: Any, how: str) -> None:
    """A clean EOF after whole frames: ConnectionClosed (not IncompleteFrame), and
    iteration ends without raising."""
    a, b = transport
    fs = framed(impl, a, ff.LengthPrefixed(4))
    p = send_and_close(b, b"\x00\x00\x00\x02hi\x00\x00\x00\x00")
    assert drain_frames(fs, how) == [b"hi", b""]
    p.finish()


def test_eof_at_once(impl: Any, transport: Any) -> None:
    """A peer that closes without sending: every receive call says so, again and again."""
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    b.shutdown(socket.SHUT_WR)
    for _ in range(3):
        for call in (fs.recv, fs.recv_many, lambda: fs.recv_exactly(3), lambda: fs.recv_until(b"\n")):
            with pytest.raises(ConnectionClosed) as info:
                call()
            assert closed_exactly(info.value)
        assert list(fs) == []
        assert fs.recv_until_eof() == b""
        assert fs.recv_exactly(0) == b""


CUT = [
    # framer, stream, frames before, IncompleteFrame(partial, expected)
    (ff.LengthPrefixed(4), b"\x00\x00", [], (b"\x00\x00", None)),
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x01a\x00\x00\x00", [b"a"], (b"\x00\x00\x00", None)),
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x05he", [], (b"\x00\x00\x00\x05he", 9)),
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x01a\x00\x00\x00\x05", [b"a"], (b"\x00\x00\x00\x05", 9)),
    (ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0), b"Q\x00\x00\x00\x0asel", [], (b"Q\x00\x00\x00\x0asel", 11)),
    (ff.LengthPrefixed(2, offset=1), b"T", [], (b"T", None)),
    (ff.Lines(), b"x\nabc\r", [b"x"], (b"abc\r", None)),
    (ff.Delimited(b"<END>"), b"abc<EN", [], (b"abc<EN", None)),
    (ff.FixedSize(4), b"abcdef", [b"abcd"], (b"ef", 4)),
    (ff.Netstring(), b"12", [], (b"12", None)),
    (ff.Netstring(), b"1:a,5:hello", [b"a"], (b"5:hello", 8)),
    (ff.VarintPrefixed(), b"\xac", [], (b"\xac", None)),
    (ff.VarintPrefixed(), b"\x00\xac\x02abc", [b""], (b"\xac\x02abc", 302)),
    # a large frame (>= 64 KiB: the large-frame path) cut short
    (ff.LengthPrefixed(4), b"\x00\x02\x00\x00" + b"z" * 100_000, [], (b"\x00\x02\x00\x00" + b"z" * 100_000, 131_076)),
]


@pytest.mark.parametrize(("framer", "stream", "frames", "cut"), CUT, ids=[repr(c[1][:12]) for c in CUT])
def test_eof_inside_a_frame(impl: Any, transport: Any, framer: Any, stream: bytes, frames: list, cut: tuple) -> None:
    """EOF inside a header or a body: the good frames first, then IncompleteFrame with
    every byte of the unfinished frame (header included) and its wire size if known;
    repeated calls raise it again, and the bytes stay buffered."""
    a, b = transport
    fs = framed(impl, a, framer)
    p = send_and_close(b, stream)
    got = []
    with pytest.raises(IncompleteFrame) as info:
        while True:
            got.append(fs.recv())
    assert got == frames
    assert type(info.value.partial) is bytes
    assert (info.value.partial, info.value.expected) == cut
    assert fs.buffered == len(cut[0])
    for call in (fs.recv, fs.recv_many, fs.recv, lambda: list(fs)):
        with pytest.raises(IncompleteFrame) as again:
            call()
        assert again.value.args == cut
    p.finish()


def test_eof_inside_a_frame_through_recv_many(impl: Any, transport: Any) -> None:
    """recv_many returns the whole frames; the next call raises IncompleteFrame."""
    a, b = transport
    fs = framed(impl, a, ff.Netstring())
    p = send_and_close(b, b"1:a,2:bc,5:hel")
    got = fs.recv_many()
    if got == [b"a"]:
        got += fs.recv_many()
    assert got == [b"a", b"bc"]
    with pytest.raises(IncompleteFrame) as info:
        fs.recv_many()
    assert info.value.args == (b"5:hel", 8)
    p.finish()


def test_eof_in_raw_reads(impl: Any, transport: Any) -> None:
    """recv_exactly short by some bytes: IncompleteFrame(partial, n); recv_until
    without its delimiter: IncompleteFrame(partial, None); the bytes stay for
    recv_until_eof."""
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    p = send_and_close(b, b"abcdefg")
    with pytest.raises(IncompleteFrame) as info:
        fs.recv_exactly(10)
    assert info.value.args == (b"abcdefg", 10)
    with pytest.raises(IncompleteFrame) as info:
        fs.recv_until(b"\r\n")
    assert info.value.args == (b"abcdefg", None)
    with pytest.raises(IncompleteFrame) as info:
        fs.recv()
    assert info.value.args == (b"abcdefg", None)
    assert fs.recv_exactly(3) == b"abc"
    assert fs.recv_until_eof() == b"defg"
    with pytest.raises(ConnectionClosed) as closed:
        fs.recv_exactly(1)
    assert closed_exactly(closed.value)
    with pytest.raises(ConnectionClosed) as closed:
        fs.recv()
    assert closed_exactly(closed.value)
    p.finish()


# -- peer reset ------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["recv", "recv_many", "recv_exactly", "recv_until", "recv_until_eof", "iter"])
def test_peer_reset_raises_connection_reset(impl: Any, tcp_transport: Any, call: str) -> None:
    """A peer that closes with SO_LINGER (1, 0) (a TCP RST): ConnectionResetError."""
    a, b = tcp_transport
    fs = framed(impl, a, ff.LengthPrefixed(4))
    b.sendall(b"\x00\x00\x00\x02hi")
    assert fs.recv() == b"hi"
    p = peer(reset, b)
    with pytest.raises(ConnectionResetError):
        {
            "recv": fs.recv,
            "recv_many": fs.recv_many,
            "recv_exactly": lambda: fs.recv_exactly(4),
            "recv_until": lambda: fs.recv_until(b"\n"),
            "recv_until_eof": fs.recv_until_eof,
            "iter": lambda: list(fs),
        }[call]()
    p.finish()


def test_peer_reset_mid_frame(impl: Any, tcp_transport: Any) -> None:
    """A reset after half a frame is ConnectionResetError, not IncompleteFrame."""
    a, b = tcp_transport
    fs = framed(impl, a, ff.LengthPrefixed(4))
    b.sendall(b"\x00\x00\x00\x09half")
    p = peer(reset, b)
    with pytest.raises(ConnectionResetError):
        fs.recv()
    p.finish()


# -- a 4 GiB length header ------------------------------------------------------------------


def test_four_gib_header_is_refused_without_allocating(impl: Any, transport: Any) -> None:
    """LengthPrefixed(4) with the default max_size, header ff ff ff ff: FrameTooLarge
    (size 2**32 - 1) before any allocation; the body that follows is skipped, not
    stored; EOF while skipping is a plain ConnectionClosed."""
    a, b = transport
    fs = framed(impl, a, ff.LengthPrefixed(4))
    chunk = b"\x00" * (1 << 16)
    rss_before = rss()
    tracemalloc.start()
    try:
        p = peer(send_chunks, b, [b"\xff\xff\xff\xff"] + [chunk] * 128)  # then 8 MiB of body
        with pytest.raises(FrameTooLarge) as info:
            fs.recv()
        assert info.value.args == (2**32 - 1, ff.DEFAULT_MAX_SIZE)
        assert (info.value.size, info.value.max_size) == (2**32 - 1, ff.DEFAULT_MAX_SIZE)
        with pytest.raises(ConnectionClosed) as closed:
            fs.recv()
        assert closed_exactly(closed.value)
        assert fs.buffered == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    p.finish()
    assert peak < 4 * MiB, peak
    rss_after = rss()  # (Linux only)
    if rss_before is not None and rss_after is not None:
        assert rss_after - rss_before < 64 * MiB


@pytest.mark.parametrize(
    ("framer", "oversize", "size"),
    [
        (ff.LengthPrefixed(2, max_size=8), b"\x00\x32" + b"x" * 50, 50),
        (ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=8), b"Q\x00\x00\x00\x36" + b"x" * 50, 55),
        (ff.Lines(max_size=8), b"x" * 50 + b"\n", 9),
        (ff.Delimited(b"<END>", max_size=8), b"x<EN" * 10 + b"<END>", 9),
        (ff.Netstring(max_size=8), b"50:" + b"x" * 50 + b",", 50),
        (ff.VarintPrefixed(max_size=8), b"\x32" + b"x" * 50, 50),
        # a large oversize frame, skipped as it arrives
        (ff.LengthPrefixed(4, max_size=1000), (300_000).to_bytes(4, "big") + b"x" * 300_000, 300_000),
    ],
    ids=repr,
)
@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_oversize_frame_skipped_then_decoding_goes_on(
    impl: Any, transport: Any, framer: Any, oversize: bytes, size: int, how: str
) -> None:
    """Good frame, oversize frame, good frame: the first arrives, FrameTooLarge is raised
    once (recv_many: on the call after the one that returned the first frame), the
    oversize frame's bytes are skipped exactly and the next frame arrives."""
    a, b = transport
    good = {
        ff.LengthPrefixed: (b"ok", b"nxt"),  # encoded below
        ff.Lines: (b"ok\n", b"next\n"),
        ff.Delimited: (b"ok<END>", b"next<END>"),
        ff.Netstring: (b"2:ok,", b"4:next,"),
        ff.VarintPrefixed: (b"\x02ok", b"\x04next"),
    }[type(framer)]
    if isinstance(framer, ff.LengthPrefixed):
        good = tuple(framer.encode(g, head=b"Q" * framer.offset) for g in good)  # type: ignore[assignment]
    first = impl.decoder(framer).feed(good[0])[0]
    after = impl.decoder(framer).feed(good[1])[0]
    fs = framed(impl, a, framer)
    p = send_and_close(b, good[0] + oversize + good[1])
    if how == "recv":
        assert fs.recv() == first
        with pytest.raises(FrameTooLarge) as info:
            fs.recv()
        assert fs.recv() == after
    else:
        assert fs.recv_many() == [first]
        with pytest.raises(FrameTooLarge) as info:
            fs.recv_many()
        assert fs.recv_many() == [after]
    assert info.value.args == (size, framer.max_size)
    with pytest.raises(ConnectionClosed) as closed:
        fs.recv()
    assert closed_exactly(closed.value)
    p.finish()


HUGE_HEADER_SCRIPT = MEMORY_CAPPED_CHILD + textwrap.dedent(
    """
    import resource, socket, sys, threading

    import fastframe as ff
    from fastframe.errors import ConnectionClosed, FrameTooLarge, IncompleteFrame

    BODY = 8 * MiB
    chunk = bytes(range(256)) * 256

    def exchange(framer, header):
        a, b = socket.socketpair()
        a.settimeout(20)
        def send():
            b.sendall(header)
            for _ in range(BODY // len(chunk)):
                b.sendall(chunk)
            b.close()
        t = threading.Thread(target=send)
        t.start()
        fs = core.FramedSocket(a, framer)
        outcome = []
        for _ in range(3):
            try:
                outcome.append(("frame", len(fs.recv())))
            except ConnectionClosed as exc:
                outcome.append((type(exc).__name__, len(getattr(exc, "partial", b"")), getattr(exc, "expected", None)))
                break
            except FrameTooLarge as exc:
                outcome.append(("FrameTooLarge", exc.size, exc.max_size))
        t.join(20)
        fs.close()
        b.close()
        return outcome

    D = ff.DEFAULT_MAX_SIZE
    cases = [
        (ff.LengthPrefixed(4), b"\\xff" * 4, [("FrameTooLarge", 2**32 - 1, D), ("ConnectionClosed", 0, None)]),
        (ff.LengthPrefixed(8), b"\\xff" * 8, [("FrameTooLarge", 2**64 - 1, D), ("ConnectionClosed", 0, None)]),
        (ff.VarintPrefixed(), b"\\x80" * 9 + b"\\x01", [("FrameTooLarge", 2**63, D), ("ConnectionClosed", 0, None)]),
        # within max_size but far more than will arrive: memory follows the bytes that arrived
        (ff.LengthPrefixed(4, max_size=2**32), b"\\xc0\\x00\\x00\\x00", [("IncompleteFrame", 4 + BODY, 4 + 3 * 2**30)]),
        (ff.LengthPrefixed(8, max_size=2**62), (2**61).to_bytes(8, "big"), [("IncompleteFrame", 8 + BODY, 8 + 2**61)]),
    ]
    for framer, header, expected in cases:
        got = exchange(framer, header)
        assert got == expected, (framer, got, expected)
    print("ok", vm("VmHWM") // MiB)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")
def test_huge_headers_reserve_nothing_under_an_address_space_cap(impl: Any) -> None:
    """In a child whose address space is capped at 1 GiB above its start: 4 GiB, 2**64
    and 2**63 headers raise FrameTooLarge and their bodies are skipped; a 3 GiB or 2**61
    frame within max_size is received as it arrives (8 MiB, then EOF: IncompleteFrame
    with those bytes), never reserved up front (that would be a MemoryError)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(ff.__file__).parents[1]), str(Path(__file__).parent)]))
    proc = subprocess.run(
        [sys.executable, "-c", HUGE_HEADER_SCRIPT, impl.module.__name__],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok"), proc.stdout


# -- the frames-before-error rule and sticky ProtocolError -------------------------------------


def test_batch_rule_over_a_socket(impl: Any, transport: Any) -> None:
    """Frames, then a malformed netstring, in one write: recv_many returns the good
    frames; the next call raises ProtocolError; recv() reaches it one frame at a time."""
    a, b = transport
    stream = b"1:a,2:bc,x:3:def,"
    fs = framed(impl, a, ff.Netstring())
    b.sendall(stream)
    assert fs.recv_many() == [b"a", b"bc"]
    with pytest.raises(ProtocolError):
        fs.recv_many()

    c, d = socket.socketpair()
    with c, d:
        fs2 = framed(impl, c, ff.Netstring())
        d.sendall(stream)
        assert fs2.recv() == b"a"
        assert fs2.recv() == b"bc"
        with pytest.raises(ProtocolError):
            fs2.recv()


def test_protocol_error_is_sticky(impl: Any, transport: Any) -> None:
    """After a ProtocolError every receive call raises it again, raw reads included,
    even with more data arriving; detach() hands over the unreturned bytes."""
    a, b = transport
    needs_detach(a)
    framer = ff.Netstring()
    fs = framed(impl, a, framer)
    b.sendall(b"1:a,x:3:def,")
    assert fs.recv() == b"a"
    with pytest.raises(ProtocolError) as first:
        fs.recv()
    b.sendall(b"2:ok,")
    calls = [
        fs.recv,
        fs.recv_many,
        lambda: list(fs),
        lambda: fs.recv_exactly(1),
        lambda: fs.recv_until(b","),
        fs.recv_until_eof,
    ]
    for call in calls * 2:
        with pytest.raises(ProtocolError) as again:
            call()
        assert again.value.args == first.value.args
    sock, rest = fs.detach()
    assert sock is a
    ref = impl.decoder(framer)
    assert ref.feed(b"1:a,") == [b"a"]
    with pytest.raises(ProtocolError):
        ref.feed(b"x:3:def,")
    held = ref.detach()
    assert held == b"x:3:def,"
    assert rest in (held, held + b"2:ok,")
    if rest == held:
        assert a.recv(100) == b"2:ok,"


def test_protocol_error_survives_a_framer_switch(impl: Any, transport: Any) -> None:
    """Sticky means every later receive call: switching the framer does not clear it
    (only detach() gets the bytes out)."""
    a, b = transport
    fs = framed(impl, a, ff.VarintPrefixed())
    b.sendall(b"\x01a" + b"\xff" * 12)
    assert fs.recv() == b"a"
    with pytest.raises(ProtocolError):
        fs.recv()
    fs.framer = ff.Lines()
    b.sendall(b"line\n")
    with pytest.raises(ProtocolError):
        fs.recv()


def test_negative_length_is_a_protocol_error(impl: Any, transport: Any) -> None:
    """A length field below -adjustment (a negative body) is malformed input."""
    a, b = transport
    fs = framed(impl, a, ff.LengthPrefixed(2, adjustment=-2))
    b.sendall(b"\x00\x03a\x00\x01")
    assert fs.recv() == b"a"
    with pytest.raises(ProtocolError):
        fs.recv()


# -- max_size of the raw reads --------------------------------------------------------------


SKIPPED_TO_THE_END = {
    # a frame over max_size skipped until the stream ended, then a read of another kind
    "framer, then recv_until": (ff.Delimited(b"bbb", max_size=1, keep=True), b"{", "recv_many", "recv_until"),
    "recv_until, then recv_until_eof": (ff.Lines(), b"xxxxxab", "recv_until", "recv_until_eof"),
}


@pytest.mark.parametrize("case", SKIPPED_TO_THE_END)
def test_a_skip_cut_short_by_the_end_hands_nothing_on(impl: Any, transport: Any, case: str) -> None:
    """An oversize frame is being skipped when the stream ends; the next read, of
    another kind, gets none of its bytes (a clean end), as detach() hands none over.
    The compiled core passed on the last len(delimiter) - 1 bytes, which a skip keeps
    in case the delimiter is split across reads."""
    framer, stream, first, then = SKIPPED_TO_THE_END[case]
    a, b = transport
    b.sendall(stream)
    b.shutdown(socket.SHUT_WR)
    fs = framed(impl, a, framer)
    reads = {
        "recv_many": fs.recv_many,
        "recv_until": lambda: fs.recv_until(b"XYZ", max_size=3),
        "recv_until_eof": fs.recv_until_eof,
    }
    with pytest.raises(FrameTooLarge):
        reads[first]()
    assert fs.buffered == 0
    if then == "recv_until_eof":
        assert fs.recv_until_eof() == b""
    else:
        with pytest.raises(ConnectionClosed) as caught:
            reads[then]()
        assert type(caught.value) is ConnectionClosed
    assert fs.buffered == 0


def test_recv_until_max_size(impl: Any, transport: Any) -> None:
    """A run without the delimiter longer than max_size: FrameTooLarge(max_size + 1,
    max_size); the run is skipped up to and including the next delimiter."""
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    p = send_and_close(b, b"short\r\n" + b"y" * 100 + b"\r" + b"z" * 50 + b"\r\nafter\r\n12345678\r\n")
    assert fs.recv_until(b"\r\n", max_size=8) == b"short"
    with pytest.raises(FrameTooLarge) as info:
        fs.recv_until(b"\r\n", max_size=8)
    assert info.value.args == (9, 8)
    assert fs.recv_until(b"\r\n", max_size=8) == b"after"
    assert fs.recv_until(b"\r\n", max_size=8) == b"12345678"
    with pytest.raises(ConnectionClosed):
        fs.recv_until(b"\r\n")
    p.finish()


def test_recv_until_keep_counts_the_delimiter(impl: Any, transport: Any) -> None:
    """With keep=True the delimiter is part of what max_size bounds (Delimited's rule)."""
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"1234\r\n123456\r\nok\r\n")
    assert fs.recv_until(b"\r\n", keep=True, max_size=6) == b"1234\r\n"
    with pytest.raises(FrameTooLarge) as info:
        fs.recv_until(b"\r\n", keep=True, max_size=6)
    assert info.value.args == (7, 6)
    assert fs.recv_until(b"\r\n", keep=True, max_size=6) == b"ok\r\n"


def test_recv_until_eof_max_size(impl: Any, transport: Any) -> None:
    """More than max_size bytes before EOF: FrameTooLarge(max_size + 1, max_size), the
    rest skipped to EOF, then b""."""
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    p = send_and_close(b, b"x" * 300_000)
    with pytest.raises(FrameTooLarge) as info:
        fs.recv_until_eof(max_size=1000)
    assert info.value.args == (1001, 1000)
    assert fs.recv_until_eof() == b""
    assert fs.buffered == 0
    p.finish()


def test_recv_until_eof_exactly_max_size(impl: Any, transport: Any) -> None:
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    p = send_and_close(b, b"x" * 1000)
    assert fs.recv_until_eof(max_size=1000) == b"x" * 1000
    p.finish()


def test_the_largest_max_sizes_a_raw_read_takes(impl: Any, pair: Any) -> None:
    """max_size=sys.maxsize, the largest taken: the bytes up to EOF, or up to the
    delimiter, with bytes already held when the read starts.  (The compiled core
    computed max_size + 1 - held in C, an overflow UBSan reports: nox -s asan.)"""
    a, b = pair
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"one\ntwo|three")
    assert fs.recv() == b"one"  # and the rest is held
    assert fs.recv_until(b"|", max_size=sys.maxsize) == b"two"
    b.shutdown(socket.SHUT_WR)
    assert fs.recv_until_eof(max_size=sys.maxsize) == b"three"


def test_recv_exactly_large(impl: Any, transport: Any) -> None:
    """recv_exactly is bounded only by n: 3 MiB in one call."""
    a, b = transport
    fs = framed(impl, a, ff.Lines())
    data = os.urandom(3 * MiB)
    p = send_and_close(b, data + b"!")
    assert fs.recv_exactly(3 * MiB) == data
    assert fs.recv_until_eof() == b"!"
    p.finish()



@pytest.mark.parametrize("size", [64 * 1024, 200 * 1024])
def test_big_netstring_without_its_comma_keeps_the_bytes_in_order(
    impl: Any, transport: Any, size: int
) -> None:
    """A big netstring (filled in its own bytes object) whose last byte is not a comma,
    followed by more bytes in the same write: ProtocolError once the frame is whole,
    and detach() hands over the bad frame and what followed it, in stream order."""
    a, b = transport
    needs_detach(a)
    body = bytes(range(256)) * (size // 256)
    bad = b"%d:" % len(body) + body + b"!"
    after = b"3:abc," * 1000
    good = ff.Netstring().encode(b"first")
    fs = framed(impl, a, ff.Netstring())
    p = peer(b.sendall, good + bad + after)
    assert fs.recv() == b"first"
    with pytest.raises(ProtocolError):
        while True:
            fs.recv()
    p.finish()
    b.shutdown(socket.SHUT_WR)
    sock, held = fs.detach()
    rest = held
    while chunk := sock.recv(1 << 16):
        rest += chunk
    assert rest == bad + after
