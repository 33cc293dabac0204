"""The fault matrix of tests/sockets/test_faults.py: its table, a peer that
misbehaves on cue, and one receiver per receive style, all driven the same way.

A Case is one fault met by one framer after a few complete frames: the peer's steps
(what it sends, when, how it ends the stream) and the phases the receiver must go
through — the frames each stretch of receiving returns, then how it ends (clean EOF,
a stall, an exception with its exact args).  Every stretch is one ``collect()`` call
on a receiver, whatever its style.  Faults inside a frame are met in small frames
and, with LARGE_FRAMERS, in frames of 160 KiB.  The bytes and frames expected come from
tests/support/wire.py (the framing rules of docs/framers/), never from the
encoders under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed, FastframeError, FrameTooLarge, IncompleteFrame, ProtocolError

from .platforms import requires_unix_sockets
from .sockets import IO_TIMEOUT, peer, reset
from .wire import netstring, oversize_frame, varint, wire_of

try:
    import uvloop
except ImportError:  # conftest skips the uvloop cases, with the reason
    uvloop = None

#: max_size of every framer in the matrix: an oversize frame is cheap to send
LIMIT = 1000

#: how long a receiver waits before a stalled peer counts as stalled
STALL_TIMEOUT = 0.02

FRAMERS = {
    "LP4": ff.LengthPrefixed(4, max_size=LIMIT),
    "LP4-pg": ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=LIMIT),  # tag + length + body
    "LP2-le-offset": ff.LengthPrefixed(2, byteorder="little", offset=2, adjustment=-3, strip=1, max_size=LIMIT),
    "LP3-le": ff.LengthPrefixed(3, byteorder="little", max_size=LIMIT),  # a width struct has no format for
    "Delimited": ff.Delimited(b"<END>", max_size=LIMIT),
    "Lines-crlf": ff.Lines(max_size=LIMIT),  # its frames go on the wire ending in \r\n
    "FixedSize": ff.FixedSize(7),
    "Netstring": ff.Netstring(max_size=LIMIT),
    "Varint": ff.VarintPrefixed(max_size=LIMIT),
}

#: framers (default max_size) for faults inside a frame of LARGE bytes: one the compiled
#: core fills in its own bytes object as it arrives, not in its receive buffer
LARGE = 160 * 1024
LARGE_FRAMERS = {
    "LP4-pg-large": ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0),
    "Delimited-large": ff.Delimited(b"<END>"),
    "Lines-large": ff.Lines(),
    "Netstring-large": ff.Netstring(),
    "Varint-large": ff.VarintPrefixed(),
}
ALL_FRAMERS = {**FRAMERS, **LARGE_FRAMERS}


# -- outcomes ------------------------------------------------------------------------------

EOF = "clean EOF"  # ConnectionClosed exactly; a for / async for loop simply ends
END = "loop ended"  # what a for / async for loop did
IDLE = "select() idle"  # select() timed out, and recv_many() then returned []

# what may end a stretch of receiving; anything else (an assertion, a TypeError) fails the case
ENDINGS = (FastframeError, OSError)


@dataclass(frozen=True)
class Stall:
    """The peer stops mid-frame: the receiver's wait times out, losing nothing.
    ``held`` is what a FramedSocket then holds (fs.buffered): the unfinished frame
    (nothing while an oversize frame is skipped)."""

    held: int


@dataclass(frozen=True)
class Raises:
    """The exact exception type, and its args unless None (an OSError's text is the system's)."""

    type: type[BaseException]
    args: tuple | None = None


Outcome = str | Stall | Raises


@dataclass(frozen=True)
class Phase:
    frames: tuple[bytes, ...]
    outcome: Outcome


def matches(style: str, expected: Outcome, token: Any) -> bool:
    """Whether ``token`` (what a collect() ended with) is ``expected`` for this receive style."""
    if style.startswith("anyio"):
        import anyio

        # anyio's names: the clean end is EndOfStream, a lost connection BrokenResourceError
        # (from the OSError); a stall is fail_after's TimeoutError, as below
        if expected == EOF and not style.endswith("iter"):
            return type(token) is anyio.EndOfStream
        if isinstance(expected, Raises) and issubclass(expected.type, OSError):
            return type(token) is anyio.BrokenResourceError and type(token.__cause__) is expected.type
    if expected == EOF:
        return token == END if style.endswith("iter") else type(token) is ConnectionClosed
    if isinstance(expected, Stall):
        if style == "selectors":
            return token == IDLE
        if style.startswith("aio"):
            return type(token) is asyncio.TimeoutError
        return type(token) is TimeoutError
    assert isinstance(expected, Raises)
    if type(token) is not expected.type:
        return False
    return expected.args is None or token.args == expected.args


# -- the peer's steps ------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    data: bytes
    bytewise: bool = False  # one send() per byte (TCP_NODELAY), a short pause now and then


@dataclass(frozen=True)
class Await:
    """Wait for the receiver: "frames" (it has every frame before the fault) or
    "stall" (its wait timed out)."""

    what: str


@dataclass(frozen=True)
class Shutdown:
    """shutdown(SHUT_WR): the end of the stream, the peer still listening."""


@dataclass(frozen=True)
class Reset:
    """close() with SO_LINGER (1, 0): a TCP RST."""


@dataclass(frozen=True)
class Reply:
    """Read the receiver's reply frame, sent after the peer's half-close."""


Step = Send | Await | Shutdown | Reset | Reply


@dataclass(frozen=True)
class Case:
    fault: str
    name: str  # the framer's, in ALL_FRAMERS
    detail: str
    steps: tuple[Step, ...]
    phases: tuple[Phase, ...]

    @property
    def framer(self) -> Any:
        return ALL_FRAMERS[self.name]

    @property
    def id(self) -> str:
        return "-".join(filter(None, [self.fault, self.detail, self.name]))

    @property
    def needs_tcp(self) -> bool:
        return any(isinstance(step, Reset) for step in self.steps)

    @property
    def before(self) -> int:
        """How many frames come before the fault."""
        return len(self.phases[0].frames)


# -- the table ---------------------------------------------------------------------------------


def encoded(framer: Any, payloads: Sequence[bytes]) -> tuple[bytes, tuple[bytes, ...]]:
    """The wire of ``payloads`` and the frames they decode to (Lines: ending in \\r\\n)."""
    if isinstance(framer, ff.Lines):
        return b"".join(p + b"\r\n" for p in payloads), tuple(payloads)
    wire, frames = wire_of(framer, payloads)
    return wire, tuple(frames)


def _payloads(framer: Any, fixed: Sequence[bytes], other: Sequence[bytes]) -> list[bytes]:
    return list(fixed if isinstance(framer, ff.FixedSize) else other)


def good_before(framer: Any) -> list[bytes]:
    return _payloads(framer, [b"fixed-1", b"fixed-2", b"fixed-3"], [b"first", b"", b"\x00\xff" * 150])


def good_after(framer: Any) -> list[bytes]:
    return _payloads(framer, [b"after-1", b"after-2"], [b"after", b"a\rb"])


def unfinished_payload(framer: Any) -> bytes:
    """The frame the fault cuts: 200 bytes, so a varint header takes two bytes."""
    return _payloads(framer, [b"partial"], [b"partial;" * 25])[0]


def large_payload() -> bytes:
    return (bytes(range(65, 125)) * (LARGE // 60 + 1))[:LARGE]  # (no \r, \n or <)


def reply_payload(framer: Any) -> bytes:
    return _payloads(framer, [b"reply!!"], [b"reply"])[0]


def header_size(framer: Any, wire: bytes) -> int:
    """Bytes of ``wire`` (one frame) before its body; 0 for framings without a header."""
    if isinstance(framer, ff.LengthPrefixed):
        return framer.offset + framer.width  # type: ignore[no-any-return]
    if isinstance(framer, ff.Netstring):
        return wire.index(b":") + 1
    if isinstance(framer, ff.VarintPrefixed):
        return next(i for i, byte in enumerate(wire) if byte < 0x80) + 1
    return 0


def cuts(framer: Any, wire: bytes) -> dict[str, int]:
    """Where an unfinished frame may stop: named offsets into its wire."""
    head = header_size(framer, wire)
    out = {"in body": head + (len(wire) - head) // 2}
    if head > 1:
        out["in header"] = head - 1
    if isinstance(framer, (ff.Delimited, ff.Lines)):  # (Lines: after the \r)
        out["in delimiter"] = len(wire) - (2 if isinstance(framer, ff.Delimited) else 1)
    return out


def expected_size(framer: Any, wire: bytes, got: int) -> int | None:
    """IncompleteFrame.expected for ``wire`` cut after ``got`` bytes: its size on the
    wire once its header has announced it, else None (a delimited frame: always None)."""
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        return None
    if isinstance(framer, ff.FixedSize):
        return len(wire)
    return len(wire) if got >= header_size(framer, wire) else None


def garbage(framer: Any) -> Iterator[tuple[str, bytes, Raises, bool]]:
    """(detail, bad bytes, the error, whether frames after it are decoded)."""
    too_large = 3 * LIMIT
    if isinstance(framer, ff.LengthPrefixed):
        size = too_large + framer.offset + framer.width - framer.strip
        yield "over max_size", oversize_frame(framer, too_large), Raises(FrameTooLarge, (size, LIMIT)), True
        if framer.adjustment < 0:
            field = -framer.adjustment - 1
            bad = b"H" * framer.offset + field.to_bytes(framer.width, framer.byteorder)
            message = f"length field {field} with adjustment {framer.adjustment} gives a negative length"
            yield "negative length", bad, Raises(ProtocolError, (message,)), False
        else:  # the oversize body never arrives: the stream ends while it is skipped
            bad = b"\xff" * framer.width + b"x" * 100
            yield "all-ones header then EOF", bad, Raises(FrameTooLarge, (2 ** (8 * framer.width) - 1, LIMIT)), False
    elif isinstance(framer, (ff.Delimited, ff.Lines)):
        delimiter = b"\r\n" if isinstance(framer, ff.Lines) else framer.delimiter
        straddling = delimiter[:-1]  # the delimiter's prefix, again and again, never the delimiter
        run = (b"y" + straddling) * (too_large // (1 + len(straddling)))
        error = Raises(FrameTooLarge, (LIMIT + 1, LIMIT))
        yield "run over max_size", run + delimiter, error, True
        yield "endless run then EOF", run, error, False
    elif isinstance(framer, ff.Netstring):
        def protocol_error(message: str) -> Raises:
            return Raises(ProtocolError, (message,))

        yield "non-digit length", b"x:1:c,", protocol_error("netstring length has a non-digit byte b'x'"), False
        yield "leading zero", b"01:a,", protocol_error("netstring length has a leading zero"), False
        yield "21-digit length", b"1" * 21 + b":", protocol_error("netstring length is longer than 20 digits"), False
        yield "no comma", b"1:bX1:c,", protocol_error("netstring does not end with b',' but b'X'"), False
        yield "over max_size", netstring(b"n" * too_large), Raises(FrameTooLarge, (too_large, LIMIT)), True
        huge = 10**20 - 1
        yield "20-digit length then EOF", b"%d:" % huge + b"x" * 100, Raises(FrameTooLarge, (huge, LIMIT)), False
    elif isinstance(framer, ff.VarintPrefixed):
        yield "overlong varint", b"\x80" * 11, Raises(ProtocolError, ("varint length is longer than 10 bytes",)), False
        yield "varint over 64 bits", b"\xff" * 9 + b"\x02", Raises(ProtocolError, ("varint length overflows 64 bits",)), False
        yield "over max_size", varint(too_large) + b"v" * too_large, Raises(FrameTooLarge, (too_large, LIMIT)), True
    # FixedSize has no header to garble


def mid_frame_cases(name: str, payload: bytes, at: Sequence[str] | None = None) -> Iterator[Case]:
    """Reset, stall and half-close inside the frame of ``payload`` (at the named cuts,
    default all), after the frames of good_before()."""
    framer = ALL_FRAMERS[name]
    wire, frames = encoded(framer, good_before(framer))
    after_wire, after_frames = encoded(framer, good_after(framer))
    unfinished, (unfinished_frame,) = encoded(framer, [payload])
    places = {detail: cut for detail, cut in cuts(framer, unfinished).items() if at is None or detail in at}
    mid = places["in body"]

    reset_phases = (Phase(frames, Raises(ConnectionResetError)),)
    yield Case("reset", name, "queued", (Send(wire + unfinished[:mid]), Reset()), reset_phases)
    yield Case("reset", name, "while waiting", (Send(wire + unfinished[:mid]), Await("frames"), Reset()), reset_phases)

    for detail, cut in places.items():
        partial = unfinished[:cut]
        steps: tuple[Step, ...] = (Send(wire + partial), Await("stall"), Send(unfinished[cut:] + after_wire))
        phases = (Phase(frames, Stall(cut)), Phase((unfinished_frame, *after_frames), EOF))
        yield Case("stall", name, detail, (*steps, Shutdown(), Reply()), phases)

        error = Raises(IncompleteFrame, (partial, expected_size(framer, unfinished, cut)))
        steps = (Send(wire + partial), Await("frames"), Shutdown(), Reply())
        yield Case("half-close", name, detail, steps, (Phase(frames, error), Phase((), error)))


def cases_for(name: str) -> Iterator[Case]:
    framer = FRAMERS[name]
    wire, frames = encoded(framer, good_before(framer))
    after_wire, after_frames = encoded(framer, good_after(framer))
    yield from mid_frame_cases(name, unfinished_payload(framer))
    yield Case("half-close", name, "between frames", (Send(wire), Shutdown(), Reply()), (Phase(frames, EOF), Phase((), EOF)))

    for detail, bad, error, resumes in garbage(framer):
        if resumes:  # the oversize frame is skipped, the frames after it come out
            phases = (Phase(frames, error), Phase(after_frames, EOF))
        elif error.type is ProtocolError:  # final: raised again, the frames after it never come
            phases = (Phase(frames, error), Phase((), error))
        else:  # the stream ends while the oversize frame is skipped: nothing more is raised for it
            phases = (Phase(frames, error), Phase((), EOF))
        tail = after_wire if error.type is not FrameTooLarge or resumes else b""
        yield Case("garbage", name, detail, (Send(wire + bad + tail), Shutdown(), Reply()), phases)
        if resumes:  # the peer stalls, or resets, while the oversize frame is being skipped
            half = len(bad) // 2
            steps = (Send(wire + bad[:half]), Await("stall"), Send(bad[half:] + after_wire), Shutdown(), Reply())
            phases = (Phase(frames, error), Phase((), Stall(0)), Phase(after_frames, EOF))
            yield Case("garbage", name, f"{detail}, stall in it", steps, phases)
            phases = (Phase(frames, error), Phase((), Raises(ConnectionResetError)))
            yield Case("garbage", name, f"{detail}, reset in it", (Send(wire + bad[:half]), Reset()), phases)

    trickled, trickled_frames = encoded(framer, _payloads(framer, good_before(framer), [b"first", b"", b"z" * 130]))
    yield Case("one-byte writes", name, "", (Send(trickled, bytewise=True), Shutdown(), Reply()), (Phase(trickled_frames, EOF),))


CASES = [case for name in FRAMERS for case in cases_for(name)] + [
    case for name in LARGE_FRAMERS for case in mid_frame_cases(name, large_payload(), at=["in body"])
]


def cells(tls: bool) -> list[Any]:
    """Every case as (case, kind) parameters: over TCP (and TLS over TCP if tls);
    over AF_UNIX too unless it needs a TCP reset."""
    out = []
    for case in CASES:
        marks = []
        if case.id.startswith("reset-queued") and sys.platform == "win32":
            marks.append(pytest.mark.skip(reason="a RST on Windows drops the bytes not yet read"))
        out.append(pytest.param(case, "tcp4", id=f"{case.id}-tcp4", marks=marks))
        if tls:
            out.append(pytest.param(case, "tls", id=f"{case.id}-tls", marks=marks))
        if not case.needs_tcp:
            out.append(pytest.param(case, "unix", id=f"{case.id}-unix", marks=requires_unix_sockets))
    return out


# -- the peer ------------------------------------------------------------------------------------


def wait_arrived(sock: socket.socket, n: int) -> None:
    """Until ``n`` bytes wait in ``sock``'s receive queue (peeked, not taken)."""
    deadline = time.monotonic() + IO_TIMEOUT
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        while True:
            try:
                if len(sock.recv(n, socket.MSG_PEEK)) >= n:
                    return
            except BlockingIOError:
                pass
            assert time.monotonic() < deadline, f"{n} bytes sent never arrived"
            time.sleep(0.001)
    finally:
        sock.settimeout(timeout)


def send_queued(steps: Sequence[Step], sender: socket.socket, receiver: socket.socket) -> tuple[Step, ...]:
    """Take the leading steps that need nothing from the receiver (plain sends, shutdown,
    reset) now, before it starts, each send waited for until it has arrived; return the rest."""
    n = 0
    while n < len(steps) and isinstance(steps[n], (Send, Shutdown, Reset)) and not getattr(steps[n], "bytewise", False):
        n += 1
    queued = sum(len(step.data) for step in steps[:n] if isinstance(step, Send))
    if queued > 16 * 1024:  # (macOS gives a socketpair 8 KiB)
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * queued)
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * queued)
    sent = 0
    for step in steps[:n]:
        if isinstance(step, Send):
            sender.sendall(step.data)
            sent += len(step.data)
            wait_arrived(receiver, sent)
        elif isinstance(step, Shutdown):
            sender.shutdown(socket.SHUT_WR)
        else:
            reset(sender)
    return tuple(steps[n:])


def send_bytewise(sock: socket.socket, data: bytes) -> None:
    for i in range(len(data)):
        sock.sendall(data[i : i + 1])
        if i % 16 == 15:  # let the receiver wake up between segments
            time.sleep(0.001)


def play(sock: socket.socket, steps: Sequence[Step], cues: dict[str, threading.Event], reply_size: int) -> bytes:
    """The peer thread: run ``steps``; return the reply it read (b"" if none)."""
    for step in steps:
        if isinstance(step, Send):
            if step.bytewise:
                send_bytewise(sock, step.data)
            else:
                sock.sendall(step.data)
        elif isinstance(step, Await):
            assert cues[step.what].wait(IO_TIMEOUT), f"the receiver never got to {step.what!r}"
            if step.what == "frames":
                time.sleep(0.005)  # time for the receiver to block again
        elif isinstance(step, Shutdown):
            sock.shutdown(socket.SHUT_WR)
        elif isinstance(step, Reset):
            reset(sock)
        else:
            return read_exactly(sock, reply_size)
    return b""


def read_exactly(sock: socket.socket, n: int) -> bytes:
    sock.settimeout(IO_TIMEOUT)
    out = b""
    while len(out) < n:
        data = sock.recv(n - len(out))
        if not data:
            break
        out += data
    return out


# -- the receivers ---------------------------------------------------------------------------------


def head_of(framer: Any) -> dict[str, bytes]:
    offset = getattr(framer, "offset", 0)
    return {"head": b"H" * offset} if offset else {}


class Receiver:
    """What both kinds of receiver share: counting the frames as they come."""

    got: int
    on_frames: Callable[[int], None]

    def _add(self, into: list[bytes], frames: list[bytes]) -> None:
        assert all(type(frame) is bytes for frame in frames)
        into += frames
        self.got += len(frames)
        self.on_frames(self.got)


class SocketReceiver(Receiver):
    """A FramedSocket read by ``recv()``, ``recv_many()`` or ``for`` (blocking), or by
    ``recv_many()`` in a selectors loop (non-blocking): each call drains it until []."""

    early_stalls = False  # bytes in the kernel are read before any wait: a timeout comes after them

    def __init__(self, fs: Any, sock: socket.socket, style: str, on_frames: Callable[[int], None]) -> None:
        self.fs = fs
        self.sock = sock
        self.style = style
        self.on_frames = on_frames
        self.got = 0
        self.selector: selectors.BaseSelector | None = None
        if style == "selectors":
            sock.setblocking(False)
            self.selector = selectors.DefaultSelector()
            self.selector.register(fs, selectors.EVENT_READ)

    def collect(self, stall: float | None) -> tuple[list[bytes], Any]:
        """Frames until the style's receiving stops: the exception, END or IDLE."""
        frames: list[bytes] = []
        if self.selector is not None:
            return self._select(frames, stall)
        self.sock.settimeout(stall)
        try:
            if self.style == "iter":
                for frame in self.fs:
                    self._add(frames, [frame])
                return frames, END
            while True:
                if self.style == "recv":
                    self._add(frames, [self.fs.recv()])
                else:
                    got = self.fs.recv_many()
                    assert got, "blocking recv_many() returned []"
                    self._add(frames, got)
        except ENDINGS as exc:
            return frames, exc

    def _select(self, frames: list[bytes], stall: float | None) -> tuple[list[bytes], Any]:
        assert self.selector is not None
        while True:
            ready = self.selector.select(IO_TIMEOUT if stall is None else stall)
            try:
                got = self.fs.recv_many()
                if not ready:
                    assert stall is not None, f"nothing to read for {IO_TIMEOUT} s"
                    assert got == [], f"select() saw nothing to read, then recv_many() returned {got!r}"
                    return frames, IDLE
                while got:  # what recv_many() left behind an error comes from the next call
                    self._add(frames, got)
                    got = self.fs.recv_many()
            except ENDINGS as exc:
                return frames, exc

    @property
    def buffered(self) -> int | None:
        return self.fs.buffered  # type: ignore[no-any-return]

    def reply(self, payload: bytes) -> None:
        self.fs.send(payload, **head_of(self.fs.framer))
        while not self.fs.flush():  # (non-blocking: what the kernel did not take is queued)
            assert self.selector is not None
            self.selector.modify(self.fs, selectors.EVENT_WRITE)
            self.selector.select(IO_TIMEOUT)

    def close(self) -> None:
        if self.selector is not None:
            self.selector.close()
        self.fs.close()


def new_loop(loop_kind: str) -> asyncio.AbstractEventLoop:
    if loop_kind == "uvloop":
        assert uvloop is not None, "conftest skips uvloop where it cannot be imported"
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


class AioReceiver(Receiver):
    """A fastframe.aio reader over the socket, read by ``recv_many()`` or ``async for``;
    a stall is ``asyncio.wait_for`` timing out (on each call: ``anext()`` for ``async for``)."""

    # wait_for's timer may expire before the loop has read what the kernel holds, on a
    # machine busy enough: the stall then repeats (losing nothing) until those frames are in
    early_stalls = True

    def __init__(self, framer: Any, sock: socket.socket, loop_kind: str, style: str, on_frames: Callable[[int], None]):
        self.style = style
        self.framer = framer
        self.on_frames = on_frames
        self.got = 0
        self.loop = new_loop(loop_kind)
        self.reports: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, context: self.reports.append(context))
        self.reader, self.writer = self._run(aio.open_connection(sock=sock, framer=framer))

    def _run(self, coro: Any) -> Any:
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, IO_TIMEOUT))
        except asyncio.TimeoutError:
            raise AssertionError(f"the reader did not return within {IO_TIMEOUT} s (it hung)") from None

    def collect(self, stall: float | None) -> tuple[list[bytes], Any]:
        frames: list[bytes] = []
        return frames, self._run(self._collect(frames, stall))

    async def _collect(self, frames: list[bytes], stall: float | None) -> Any:
        try:
            if self.style == "aio-recv_many":
                while True:
                    call = self.reader.recv_many()
                    got = await (call if stall is None else asyncio.wait_for(call, stall))
                    assert got, "recv_many() returned []"
                    self._add(frames, got)
            if stall is None:
                async for frame in self.reader:
                    self._add(frames, [frame])
                return END
            while True:
                self._add(frames, [await asyncio.wait_for(anext(self.reader), stall)])
        except StopAsyncIteration:
            return END
        except (*ENDINGS, asyncio.TimeoutError) as exc:
            return exc

    @property
    def buffered(self) -> None:
        return None  # (the reader does not say)

    def reply(self, payload: bytes) -> None:
        self.writer.send(payload, **head_of(self.framer))
        self._run(self.writer.drain())

    def close(self) -> None:
        try:
            self.writer.close()
            self._run(self.writer.wait_closed())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()
        assert not self.reports, f"the event loop reported: {self.reports}"


class AnyioReceiver(Receiver):
    """A fastframe.anyio FramedStream over an anyio socket stream, whose event loop
    (an anyio backend's) runs in a thread behind ``portal`` (anyio's blocking
    portal), read by ``receive_many()`` or ``async for``; a stall is ``fail_after``
    timing out (on each call: ``__anext__()`` for ``async for``)."""

    early_stalls = True  # as AioReceiver's: the timer may expire before the loop has read

    def __init__(self, framer: Any, stream: Any, portal: Any, style: str, on_frames: Callable[[int], None]) -> None:
        from fastframe.anyio import FramedStream

        self.stream = FramedStream(stream, framer)
        self.framer = framer
        self.portal = portal
        self.style = style
        self.on_frames = on_frames
        self.got = 0

    def collect(self, stall: float | None) -> tuple[list[bytes], Any]:
        frames: list[bytes] = []
        return frames, self.portal.call(self._collect, frames, stall)

    async def _collect(self, frames: list[bytes], stall: float | None) -> Any:
        import anyio

        endings = (*ENDINGS, TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError)
        try:
            with anyio.fail_after(IO_TIMEOUT):  # (a hang fails the case: the token is then wrong)
                if self.style == "anyio-receive_many":
                    while True:
                        with anyio.fail_after(stall) if stall else contextlib.nullcontext():
                            got = await self.stream.receive_many()
                        assert got, "receive_many() returned []"
                        self._add(frames, got)
                if stall is None:
                    async for frame in self.stream:
                        self._add(frames, [frame])
                    return END
                while True:
                    with anyio.fail_after(stall):
                        frame = await self.stream.__anext__()
                    self._add(frames, [frame])
        except StopAsyncIteration:
            return END
        except endings as exc:
            return exc

    @property
    def buffered(self) -> int:
        return self.stream.buffered

    def reply(self, payload: bytes) -> None:
        self.portal.call(functools.partial(self.stream.send, payload, **head_of(self.framer)))

    def close(self) -> None:
        self.portal.call(self.stream.aclose)


# -- a case, start to end ---------------------------------------------------------------------


def shown(value: Any) -> str:
    """repr() with long bytes cut short, for failure messages."""
    if isinstance(value, bytes) and len(value) > 40:
        return f"<{len(value)} bytes {value[:16]!r}...{value[-8:]!r}>"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if isinstance(value, Phase):
        return f"Phase({shown(value.frames)}, {shown(value.outcome)})"
    if isinstance(value, Raises) and value.args:
        return f"Raises({value.type.__name__}, {shown(value.args)})"
    if isinstance(value, BaseException):
        return f"{type(value).__name__}{shown(value.args)}"
    return repr(value)


def play_case(
    case: Case, style: str, receiving: socket.socket, peer_sock: socket.socket, receiver_of: Callable[..., Any]
) -> None:
    """Run ``case`` between ``peer_sock`` (the peer) and a receiver of ``style`` made by
    ``receiver_of(on_frames)`` on ``receiving``; assert every phase, and the reply."""
    framer = case.framer
    replies = any(isinstance(step, Reply) for step in case.steps)
    reply_wire = wire_of(framer, [reply_payload(framer)])[0] if replies else b""
    cues = {"frames": threading.Event(), "stall": threading.Event()}
    rest = send_queued(case.steps, peer_sock, receiving)

    def on_frames(count: int) -> None:
        if count >= case.before:
            cues["frames"].set()

    receiver = receiver_of(on_frames)
    thread = peer(play, peer_sock, rest, cues, len(reply_wire)) if rest else None
    history: list[tuple[list[bytes], Any]] = []
    try:
        for i, phase in enumerate(case.phases):
            stall = STALL_TIMEOUT if isinstance(phase.outcome, Stall) else None
            frames, token = receiver.collect(stall)
            while stall and receiver.early_stalls and len(frames) < len(phase.frames) and matches(style, phase.outcome, token):
                more, token = receiver.collect(stall)
                frames += more
            history.append((frames, token))
            where = f"{case.id} via {style}, phase {i}: expected {shown(phase)}, got {shown(history)}"
            assert frames == list(phase.frames), where
            assert matches(style, phase.outcome, token), where
            if isinstance(phase.outcome, Stall):
                assert receiver.buffered in (None, phase.outcome.held), (receiver.buffered, where)
                cues["stall"].set()
        if replies:
            receiver.reply(reply_payload(framer))
        assert (thread.finish() if thread else b"") == reply_wire, "the peer did not get the reply"
    finally:
        for cue in cues.values():  # a failed case must not leave the peer waiting
            cue.set()
        receiver.close()
