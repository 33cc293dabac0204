"""Drive every path of the compiled core, for a memory checker to watch.

    PYTHONMALLOC=malloc valgrind --tool=memcheck --leak-check=full \\
        --suppressions=hardening/valgrind-python3.12.supp python3.12 hardening/memcheck.py [ITERATIONS]

(``nox -s memcheck`` runs that, with the extension built afresh.)  Each iteration
runs every framing through both decoder entry points (``feed`` and
``get_buffer``/``buffer_updated``) in random chunks, with oversize frames to skip
(FrameTooLarge), a malformed stream (ProtocolError), ``eof()`` inside a frame
(IncompleteFrame), the encoders including their error paths, and FramedSocket over
a socketpair: recv, recv_many, iteration, recv_exactly, recv_until, recv_until_eof,
send, send_many, sendall, timeouts, a framer switch and EOF; every 16th iteration
adds frames of 64 KiB and more (built in place) and non-blocking sends that queue
and flush.  Odd iterations use the socket-object path of FramedSocket, even ones
the descriptor path.

Every result is checked against what was sent, so a wrong answer fails the run as
well as a memory error.  Deterministic: the chunking comes from a seeded generator.
"""

from __future__ import annotations

import random
import select
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import fastframe as ff
from fastframe import _cores
from fastframe._cores import Core
from fastframe.errors import ConnectionClosed, FrameTooLarge, IncompleteFrame, ProtocolError

MAX = 48  # the small framers' max_size: oversize frames stay cheap
LARGE = 70_000  # above the core's LARGE_FRAME (64 KiB): built in its final bytes object
LARGE_EVERY = 16
TOO_LARGE = "FrameTooLarge"  # the event a skipped frame leaves


def framings() -> list[tuple[ff.Framer, ff.Framer]]:
    """(framer with max_size=MAX, the same framing without that limit): the second
    writes the oversize frames the first must skip, and decodes the large ones."""
    pairs: list[tuple[ff.Framer, ff.Framer]] = []
    for cls, options in [
        (ff.LengthPrefixed, {"width": 4}),
        # a head before the field, a field that counts itself, a frame that keeps it
        (ff.LengthPrefixed, {"width": 2, "byteorder": "little", "offset": 1, "adjustment": -2, "strip": 1}),
        (ff.LengthPrefixed, {"width": 8}),
        (ff.Delimited, {"delimiter": b"\r\n"}),
        (ff.Delimited, {"delimiter": b"END", "keep": True}),
        (ff.Lines, {}),
        (ff.Netstring, {}),
        (ff.VarintPrefixed, {}),
    ]:
        pairs.append((cls(**options, max_size=MAX), cls(**options)))
    pairs.append((ff.FixedSize(7), ff.FixedSize(7)))  # nothing is oversize here
    return pairs


# -- what a framer should give back ------------------------------------------------


def head(framer: ff.Framer) -> dict[str, bytes]:
    """The keyword arguments that give a LengthPrefixed frame its head."""
    return {"head": b"H" * framer.offset} if isinstance(framer, ff.LengthPrefixed) else {}


def wire_and_frame(framer: ff.Framer, payload: bytes) -> tuple[bytes, bytes]:
    """One frame on the wire, and the frame a decoder gives back for it."""
    wire = framer.encode(payload, **head(framer))
    if isinstance(framer, ff.LengthPrefixed):
        return wire, wire[framer.strip :]
    if isinstance(framer, ff.Delimited) and framer.keep:
        return wire, payload + framer.delimiter
    return wire, payload


def payload(framer: ff.Framer, rng: random.Random, size: int) -> bytes:
    """``size`` bytes (a FixedSize frame's size, at most what the length field counts)."""
    if isinstance(framer, ff.FixedSize):
        size = framer.size
    if isinstance(framer, ff.LengthPrefixed):
        size = min(size, 2 ** (8 * framer.width) - 1 + framer.adjustment)
    data = (bytes(rng.getrandbits(8) for _ in range(min(size, 64))) * (size // 64 + 1))[:size]
    if isinstance(framer, (ff.Delimited, ff.Lines)):  # no delimiter inside, no CR to strip
        data = data.replace(framer.delimiter[:1], b"_").replace(b"\r", b"_")
    return data


def stream(framer: ff.Framer, writer: ff.Framer, rng: random.Random, sizes: list[int]) -> tuple[bytes, list[object]]:
    """Frames of these payload sizes written by ``writer`` (no limit): the wire, and
    what ``framer`` gives back: each frame, or TOO_LARGE for one over its max_size."""
    wire: list[bytes] = []
    events: list[object] = []
    for size in sizes:
        frame_wire, frame = wire_and_frame(writer, payload(writer, rng, size))
        wire.append(frame_wire)
        events.append(TOO_LARGE if len(frame) > framer.max_size else frame)
    return b"".join(wire), events


def chunks(data: bytes, rng: random.Random) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        size = rng.choice([1, 2, 3, 7, 50, 1000, 70_000])
        yield data[pos : pos + size]
        pos += size


# -- decoders ------------------------------------------------------------------------


def collect(call: Callable[[], list[bytes]], events: list[object]) -> bool:
    """One decoder call: its frames, or its FrameTooLarge, go to ``events``.
    False once the call had nothing to give."""
    try:
        frames = call()
    except FrameTooLarge:
        events.append(TOO_LARGE)
        return True
    events.extend(frames)
    return bool(frames)


def through_feed(decoder: Any, data: bytes, rng: random.Random, events: list[object]) -> None:
    for i, chunk in enumerate(chunks(data, rng)):
        piece: Any = chunk if i % 3 else (bytearray(chunk) if i % 2 else memoryview(chunk))
        collect(lambda piece=piece: decoder.feed(piece), events)


def through_buffer(decoder: Any, data: bytes, rng: random.Random, events: list[object]) -> None:
    for chunk in chunks(data, rng):
        while chunk:
            with decoder.get_buffer(rng.choice([-1, 0, 1, 65536, 100_000])) as view:
                n = min(len(view), len(chunk))
                view[:n] = chunk[:n]
            chunk = chunk[n:]
            collect(lambda n=n: decoder.buffer_updated(n), events)


def check_decoders(small: ff.Framer, big: ff.Framer, rng: random.Random, large: bool) -> int:
    if large:  # frames built in place, and held bytes behind them
        framer, sizes = big, [3, LARGE, 0, 2 * LARGE, 5]
    else:  # oversize frames among good ones, two in a row too
        framer, sizes = small, [0, 3 * MAX, 5, MAX // 2, MAX + 1, 20 * MAX, 1, MAX]
    data, expected = stream(framer, big, rng, sizes)
    for feeder in (through_feed, through_buffer):
        decoder = framer.decoder()
        events: list[object] = []
        feeder(decoder, data, rng, events)
        while collect(decoder.eof, events):  # a pending error comes out here too
            pass
        assert events == expected, (framer, feeder.__name__, events[:4], expected[:4])
        # a frame cut short: held, handed back by detach(), or IncompleteFrame at eof()
        good = wire_and_frame(framer, payload(framer, rng, 5))[0]
        tail = good[: rng.randrange(1, len(good))]
        for _ in range(2):
            feeder(decoder, tail, rng, events)
            assert decoder.buffered == len(tail), (framer, decoder.buffered, tail)
            assert decoder.detach() == tail
        feeder(decoder, tail, rng, events)
        try:
            decoder.eof()
        except IncompleteFrame as error:
            assert error.partial == tail, (error.partial, tail)
        else:
            raise AssertionError(f"{framer}: no IncompleteFrame")
        assert len(events) == len(expected)
    return len(expected)


MALFORMED: list[tuple[ff.Framer, bytes]] = [
    (ff.Netstring(), b"3:abc,5:hello!"),
    (ff.Netstring(), b"12x:"),
    (ff.VarintPrefixed(), b"\x01a" + b"\x80" * 11),
    (ff.LengthPrefixed(1, adjustment=-5), b"\x06a\x02ab"),
]


def check_protocol_errors(rng: random.Random) -> None:
    for framer, data in MALFORMED:
        decoder = framer.decoder()
        events: list[object] = []
        for attempt in range(2):  # it stays
            try:
                through_feed(decoder, data, rng, events)
                decoder.eof()
            except ProtocolError:
                pass
            else:
                raise AssertionError(f"{framer}: no ProtocolError (attempt {attempt})")
        decoder.detach()


# -- encoders -------------------------------------------------------------------------


def check_encoders(small: ff.Framer, big: ff.Framer, rng: random.Random) -> None:
    payloads = [payload(big, rng, size) for size in (0, 3, MAX)]
    one = big.encode(payloads[1], **head(big))
    assert big.encode(bytearray(payloads[1]), **head(big)) == one
    assert big.encode(memoryview(payloads[1]), **head(big)) == one
    many = big.encode_many(payloads, **head(big))
    assert big.encode_many(iter(payloads), **head(big)) == many  # not a sequence
    assert many == b"".join(big.encode(p, **head(big)) for p in payloads)
    failing: list[Callable[[], object]] = [
        lambda: big.encode(memoryview(b"abcdefghijklmn")[::2]),  # not contiguous
        lambda: big.encode("text"),  # type: ignore[arg-type]
        lambda: big.encode_many([payloads[1], 42, payloads[0]]),  # fails half-way
        lambda: big.encode_many(payloads[1]),  # an iterable of ints
    ]
    if small.max_size != big.max_size:
        failing.append(lambda: small.encode(b"x" * (MAX + 1)))
        failing.append(lambda: small.encode_many([b"ok", b"x" * (MAX + 1)]))
    else:
        failing.append(lambda: big.encode(b"wrong size"))
    if isinstance(big, ff.LengthPrefixed):
        failing.append(lambda: big.encode(b"x", head=b"wrong head"))
    if isinstance(big, (ff.Delimited, ff.Lines)):
        failing.append(lambda: big.encode(b"has" + big.delimiter + b"inside"))
    for call in failing:
        try:
            call()
        except (TypeError, ValueError, BufferError, OverflowError):
            pass
        else:
            raise AssertionError(f"{big}: an encoder call that should fail did not")


# -- FramedSocket ---------------------------------------------------------------------


def expect(error: type[BaseException], call: Callable[[], object]) -> BaseException:
    try:
        call()
    except error as caught:
        return caught
    raise AssertionError(f"no {error.__name__} from {call}")


def on_path(core: Core, i: int) -> Core:
    """The core whose FramedSockets iteration ``i`` makes: on the descriptor when
    ``i`` is even, through the socket object's methods when it is odd."""
    return core if i % 2 == 0 else core.object_path()


def check_socket(core: Core, small: ff.Framer, big: ff.Framer, other: ff.Framer, rng: random.Random, i: int) -> None:
    path = on_path(core, i)
    a, b = socket.socketpair()
    with path.framed_socket(a, small) as fa, path.framed_socket(b, small) as fb:
        payloads = [payload(small, rng, size) for size in (0, 5, 9, MAX // 2, 3)]
        sent = [wire_and_frame(small, p) for p in payloads]
        frames = [frame for _, frame in sent]
        fa.send(payloads[0], **head(small))
        assert fb.recv() == frames[0]
        fa.send_many(payloads[1:4], **head(small))
        got: list[bytes] = []
        while len(got) < 3:
            got.extend(fb.recv_many())
        fa.sendall(sent[4][0])
        got.append(next(iter(fb)))
        assert got == frames[1:], (small, got, frames)

        # raw reads share the buffer with the frames
        fa.sendall(b"TYPE" + b"key: value\r\n\r\n" + sent[1][0] + b"x" * 9 + b"\n" + b"rest\n")
        assert fb.recv_exactly(4) == b"TYPE"
        keep = i % 2 == 1
        assert fb.recv_until(b"\r\n\r\n", keep=keep) == b"key: value" + (b"\r\n\r\n" if keep else b"")
        assert fb.recv() == frames[1]
        expect(FrameTooLarge, lambda: fb.recv_until(b"\n", max_size=4))  # skips to the b"\n"
        assert fb.recv_until(b"\n") == b"rest"

        # an oversize frame is skipped over the socket too
        if small.max_size != big.max_size:
            fa.sendall(wire_and_frame(big, payload(big, rng, 3 * MAX))[0] + sent[2][0])
            expect(FrameTooLarge, fb.recv)
            assert fb.recv() == frames[2]

        # a timeout loses nothing
        b.settimeout(0.002)
        for wait in (fb.recv, fb.recv_many, lambda: fb.recv_exactly(1)):
            expect(TimeoutError, wait)
        half = len(sent[3][0]) // 2
        fa.sendall(sent[3][0][:half])
        if half:
            expect(TimeoutError, fb.recv)
        fa.sendall(sent[3][0][half:])
        assert fb.recv() == frames[3]
        b.settimeout(None)

        # another framing mid-stream, at both ends
        fa.framer = fb.framer = other
        other_wire, other_frame = wire_and_frame(other, payload(other, rng, 6))
        fa.sendall(other_wire)
        assert fb.recv() == other_frame
        fa.framer = fb.framer = small

        # the end of the stream, three ways
        mode = i % 3
        if mode == 0:
            fa.sendall(b"all that is left")
            fa.shutdown_write()
            assert fb.recv_until_eof() == b"all that is left"
        elif mode == 1:
            fa.sendall(sent[3][0][:-1])
            fa.shutdown_write()
            error = expect(IncompleteFrame, fb.recv)
            assert error.partial == sent[3][0][:-1]  # type: ignore[attr-defined]
        else:
            fa.sendall(sent[1][0] + sent[2][0])
            fa.shutdown_write()
            assert list(fb) == [frames[1], frames[2]]  # ends at ConnectionClosed
            expect(ConnectionClosed, fb.recv)
        if i % 5 == 0:
            sock, unread = fb.detach()
            assert unread == (sent[3][0][:-1] if mode == 1 else b""), unread  # IncompleteFrame keeps them
            sock.close()


def check_nonblocking(core: Core, framer: ff.Framer, rng: random.Random, i: int) -> None:
    """Large frames through small socket buffers: sends queue, flush() drains them."""
    path = on_path(core, i)
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.setblocking(False)
    b.setblocking(False)
    with path.framed_socket(a, framer) as fa, path.framed_socket(b, framer) as fb:
        payloads = [payload(framer, rng, size) for size in (LARGE, 10, 2 * LARGE, 0)]
        fa.send(payloads[0], **head(framer))
        fa.send_many(payloads[1:], **head(framer))
        if len(payloads[0]) == LARGE:  # (not FixedSize)
            assert fa.pending_output > 0 and fa.wants_write
            expect(BlockingIOError, fb.recv)
        got: list[bytes] = []
        while len(got) < len(payloads):
            writers = [fa] if fa.wants_write else []
            select.select([fb], writers, [], 5)
            if writers:
                fa.flush()
            got.extend(fb.recv_many())
        assert fa.flush() and fa.pending_output == 0
        assert got == [wire_and_frame(framer, p)[1] for p in payloads]


# ------------------------------------------------------------------------------------------


def main() -> int:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    if ff.IMPLEMENTATION != "cython":
        sys.exit(f"the compiled core is not in use (IMPLEMENTATION={ff.IMPLEMENTATION!r})")
    core = _cores.load("cython")
    rng = random.Random(1234)
    pairs = framings()
    frames = 0
    for i in range(iterations):
        large = i % LARGE_EVERY == 0
        for small, big in pairs:
            frames += check_decoders(small, big, rng, large)
            check_encoders(small, big, rng)
        check_protocol_errors(rng)
        small, big = pairs[i % len(pairs)]
        check_socket(core, small, big, pairs[(i + 1) % len(pairs)][1], rng, i)
        if large:
            check_nonblocking(core, pairs[i // LARGE_EVERY % len(pairs)][1], rng, i)
    print(f"memcheck script: {iterations} iterations, {frames} decoded frames checked, core {core.module.__file__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
