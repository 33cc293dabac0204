"""The socket scenario: a stream (frames of one or more framers, raw text) written
chunk by chunk into one end of a socketpair, the other end a non-blocking
FramedSocket of each core (the compiled one on its object path for a quarter of
them), with receive calls after each chunk (recv, recv_many, next, recv_exactly,
recv_until, recv_until_eof, framer switches, detach; odd arguments too), then the
peer's shutdown and calls until the stream ends.  A third of them run over TLS
(fastframe's own session on both ends, the peer ending with close_notify or a
bare FIN), where detach() is refused.

Each call's result or exception, ``buffered`` and what ``detach()`` hands over must
agree between the cores, and the twin's run must add up (class Ledger).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fastframe as ff
from fastframe._cores import Core
from fastframe._tls import Session
from fastframe.errors import ConnectionClosed, FrameTooLarge, IncompleteFrame, ProtocolError
from tests.support import certs
from tests.support.wire import delimiter_of

from .choices import Choices
from .cores import CORES, DIFFERENTIAL, TWIN
from .findings import Finding, disagreement, short, show, trail
from .framing import EDGE_SIZES, make_framer, make_stream
from .reencoding import wire_at

# The whole stream fits in the socket's buffer, so the peer never waits for the reader
# (AF_UNIX socketpair buffers hold ~200 KiB here; 64 KiB is portable).  The peer is
# non-blocking all the same: poll() calls an AF_UNIX socket writable only while its
# buffer is under a quarter full, so a sendall() with a timeout would wait.
STREAM_LIMIT = 60 * 1024
MAX_WRITES = 32  # each write is one buffer in the kernel, with its own overhead
# arguments the calls refuse (ValueError, TypeError), and ints past a C Py_ssize_t
REFUSED_COUNTS = (-1, 2**63, 2.0, "3")
REFUSED_SIZES = (0, -1, 2**63, "8")
REFUSED_FRAME_COUNTS = (0, -1, 2**63, 2.0)
RAW_TEXT = b"ab\r\n\x00:,0123456789x"  # delimiters, netstring headers and filler


@dataclass(frozen=True)
class SockCall:
    """One step of a socket scenario.

    method: "write" (the peer sends args[0]), "shutdown" (the peer's SHUT_WR), "rest"
    (what the socket still holds after a detach(), read up to the end), or a
    FramedSocket call: a method name, "next" (next(fs)) or "framer" (fs.framer =
    args[0]).  recv_until's delimiter, when bytes, is passed as ``as_type``.
    """

    method: str
    args: tuple = ()
    kwargs: tuple = ()  # (name, value) pairs: a frozen dataclass holds no dict
    as_type: type = bytes

    def arguments(self) -> tuple[tuple, dict[str, Any]]:
        args = self.args
        if self.method == "recv_until" and isinstance(args[0], bytes):
            args = (self.as_type(args[0]),)
        return args, dict(self.kwargs)

    def __repr__(self) -> str:
        if self.method == "write":
            return f"peer.sendall({short(self.args[0])})"
        if self.method == "shutdown":
            return "peer.shutdown(SHUT_WR)"
        if self.method == "rest":
            return "the detached socket read up to the end"
        if self.method == "next":
            return "next(fs)"
        if self.method == "framer":
            return f"fs.framer = {self.args[0]!r}"
        shown = [f"{self.as_type.__name__}({a!r})" if isinstance(a, bytes) else repr(a) for a in self.args]
        shown += [f"{name}={value!r}" for name, value in self.kwargs]
        return f"fs.{self.method}({', '.join(shown)})"


@dataclass
class SocketScenario:
    framer: Any  # the FramedSocket's framer at the start
    stream: bytes
    calls: list[SockCall]  # the peer's writes with calls after each, its shutdown, more calls
    ending: str  # "detach" or "close", once the calls after the shutdown have run out the stream
    object_path: bool  # the compiled core calls the socket's methods instead of using its descriptor
    tls: str  # "": plain; "close_notify" or "fin": over TLS, the peer's shutdown

    def __repr__(self) -> str:
        path = f"TLS, the peer's shutdown a {self.tls}" if self.tls else (
            "object path" if self.object_path else "descriptor path")
        return f"framer: {self.framer!r}; {path}\nstream ({len(self.stream)} bytes): {short(self.stream, 300)}"


def count_arg(c: Choices) -> Any:
    how = c.int(0, 7)
    if how <= 4:
        return c.int(0, 8)
    if how == 5:
        return c.int(9, 300)
    if how == 6:  # past the stream's end; a compiled core fills 64 KiB and more in place
        return c.pick(EDGE_SIZES)
    return c.pick(REFUSED_COUNTS)


def limit_kwarg(c: Choices) -> tuple:
    """The max_size= of a raw read: left out (16 MiB), mostly tiny, at times refused."""
    how = c.int(0, 7)
    if how == 0:
        return ()
    if how <= 5:
        return (("max_size", c.int(1, 24)),)
    return (("max_size", c.pick(EDGE_SIZES if how == 6 else REFUSED_SIZES)),)


def max_frames_arg(c: Choices) -> tuple:
    how = c.int(0, 7)
    if how <= 3:
        return ()
    if how <= 5:
        return (c.int(1, 3),)
    return (c.pick(REFUSED_FRAME_COUNTS),)


def until_delimiter(c: Choices, stream: bytes, framers: Sequence[Any]) -> Any:
    n = c.int(1, 3)
    how = c.int(0, 7)
    if how <= 2 and len(stream) >= n:  # bytes the stream holds somewhere
        at = c.int(0, len(stream) - n)
        return stream[at : at + n]
    if how == 3:
        delimiters = [delimiter_of(f) for f in framers if isinstance(f, (ff.Delimited, ff.Lines))]
        return c.pick(delimiters or [b"\n"])
    if how == 4:
        return c.bytes(n)
    if how == 5:
        return c.pick((b"", "\n"))  # refused: empty, not bytes
    return c.text(RAW_TEXT, n)


def switch_target(c: Choices, framers: Sequence[Any]) -> Any:
    how = c.int(0, 7)
    if how <= 4:  # one whose frames are in the stream (or the one in force: no switch)
        return c.pick(framers)
    if how <= 6:
        return make_framer(c)
    return c.pick((None, b"\n"))  # not a framer: TypeError


def socket_call(c: Choices, stream: bytes, framers: Sequence[Any]) -> SockCall:
    kind = c.int(0, 31)
    if kind < 8:
        return SockCall("recv_many", max_frames_arg(c))
    if kind < 13:
        return SockCall("recv")
    if kind < 15:
        return SockCall("next")
    if kind < 20:
        return SockCall("recv_exactly", (count_arg(c),))
    if kind < 25:
        delimiter = until_delimiter(c, stream, framers)
        kwargs = (("keep", c.bool()), *limit_kwarg(c))
        return SockCall("recv_until", (delimiter,), kwargs, as_type=c.pick((bytes, bytearray, memoryview)))
    if kind < 27:
        return SockCall("recv_until_eof", (), limit_kwarg(c))
    if kind < 31:
        return SockCall("framer", (switch_target(c, framers),))
    return SockCall("detach")


def socket_stream(c: Choices, framer: Any) -> tuple[bytes, list[Any]]:
    """Parts framed for the first framer or for others, and raw text; those framers."""
    framers = [framer]
    parts = []
    for _ in range(c.int(1, 3)):
        how = c.int(0, 3)
        if how == 3:
            parts.append(c.text(RAW_TEXT, c.int(0, 32)))
            continue
        if how == 2:
            framers.append(make_framer(c))
        parts.append(make_stream(c, framers[-1]))
    return b"".join(parts)[:STREAM_LIMIT], framers


def socket_calls(c: Choices, stream: bytes, framers: Sequence[Any]) -> list[SockCall]:
    calls = [socket_call(c, stream, framers) for _ in range(c.int(0, 2))]
    pos = 0
    for writes in range(1, MAX_WRITES + 1):
        if pos >= len(stream):
            break
        left = len(stream) - pos
        how = c.int(0, 7)
        n = left if c.spent or how == 0 or writes == MAX_WRITES else 1 if how == 1 else c.int(1, left)
        calls.append(SockCall("write", (stream[pos : pos + n],)))
        pos += n
        calls += [socket_call(c, stream, framers) for _ in range(c.int(0, 4))]
    calls.append(SockCall("shutdown"))
    return calls + [socket_call(c, stream, framers) for _ in range(c.int(0, 8))]


def socket_setup(c: Choices) -> SocketScenario:
    framer = make_framer(c)
    stream, framers = socket_stream(c, framer)
    object_path = c.one_in(4)
    calls = socket_calls(c, stream, framers)
    ending = c.pick(("detach", "close"))
    # A third over TLS; drawn last, and plain when the input is spent, so that
    # older corpus inputs mean what they meant.
    tls = c.pick(("", "", "close_notify", "", "", "fin"))
    return SocketScenario(framer, stream, calls, ending, object_path and not tls, tls)


@dataclass
class SockStep:
    call: SockCall
    outcome: tuple
    buffered: int


def framed_socket(core: Core, sock: socket.socket, framer: Any, object_path: bool) -> Any:
    """The core's FramedSocket, on the object path if asked and the core has one
    (the twin has a single path)."""
    if object_path and core.has_object_path:
        core = core.object_path()
    return core.framed_socket(sock, framer)


# No session tickets: a scenario's reads are the stream's and nothing else.
_SERVER_TLS = certs.server_context()
_SERVER_TLS.num_tickets = 0
_CLIENT_TLS = certs.client_context()


class TlsPeer:
    """The peer's end over TLS: sendall() encrypts (the stream, TLS records and
    all, fits the socket's buffer: nothing waits); shutdown() sends close_notify
    then the FIN, or the FIN alone."""

    def __init__(self, session: Session, shutdown: str) -> None:
        self.session = session
        self.how = shutdown

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self.session.send(view) :]

    def shutdown(self, how: int) -> None:
        if self.how == "close_notify":
            self.session.shutdown(how)
        else:
            self.session.socket.shutdown(how)


def secure(peer: socket.socket, reader: socket.socket, shutdown: str) -> tuple[TlsPeer, Session]:
    """Both ends' handshakes (blocking sockets), the peer's in a thread."""
    server = Session(peer, _SERVER_TLS, True, None)
    shaking = threading.Thread(target=server.handshake, daemon=True)
    shaking.start()
    client = Session(reader, _CLIENT_TLS, False, certs.SERVER_NAME)
    try:
        client.handshake()
    finally:
        shaking.join(10.0)
    if shaking.is_alive():
        raise Finding("the TLS handshake did not finish")
    return TlsPeer(server, shutdown), client


def socket_outcome(fs: Any, peer: Any, reader: socket.socket, call: SockCall) -> tuple:
    """("returned", value), ("detached", whether it is the socket given, held bytes),
    ("error", type, args), or what a step that is not a call gives."""
    if call.method == "write":
        peer.sendall(call.args[0])
        return ("written",)
    if call.method == "shutdown":
        peer.shutdown(socket.SHUT_WR)
        return ("shut",)
    if call.method == "rest":
        return ("rest", read_to_end(reader))
    try:
        if call.method == "next":
            result = next(fs)
        elif call.method == "framer":
            fs.framer = call.args[0]
            return ("switched",)
        elif call.method == "close":
            fs.close()
            return ("closed",)
        elif call.method == "detach":
            sock, held = fs.detach()
            return ("detached", sock is reader, held) if type(held) is bytes else ("not bytes", type(held))
        else:
            args, kwargs = call.arguments()
            result = getattr(fs, call.method)(*args, **kwargs)
    except StopIteration:
        return ("stopped",)
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return ("error", type(exc), exc.args)
    frames = result if call.method == "recv_many" and type(result) is list else [result]
    if any(type(frame) is not bytes for frame in frames):
        return ("not bytes", repr(result)[:200])
    return ("returned", result)


def read_to_end(sock: socket.socket) -> bytes:
    """What a non-blocking socket holds, up to the peer's shutdown (already there)."""
    chunks = []
    while chunk := sock.recv(STREAM_LIMIT):
        chunks.append(chunk)
    return b"".join(chunks)


def ended(outcome: tuple) -> bool:
    """The stream has nothing more for recv_many(): it ended, it is broken, or the
    FramedSocket is closed."""
    return outcome[0] == "error" and outcome[1] in (ConnectionClosed, IncompleteFrame, ProtocolError, OSError)


def run_socket(core: Core, sc: SocketScenario) -> list[SockStep]:
    """The scenario's calls, then recv_many() until the stream has ended, then its
    ending (and, after a detach(), what the socket still held)."""
    peer, reader = socket.socketpair()
    fs = None
    try:
        sender: Any = peer
        session = None
        if sc.tls:
            sender, session = secure(peer, reader, sc.tls)
        peer.settimeout(0)
        reader.settimeout(0)
        fs = framed_socket(core, reader, sc.framer, sc.object_path)
        if session is not None:
            fs._use_tls(session)

        def step(call: SockCall) -> SockStep:
            return SockStep(call, socket_outcome(fs, sender, reader, call), fs.buffered)

        steps = [step(call) for call in sc.calls]
        bound = len(sc.stream) + 8  # each recv_many() returns a frame or raises
        while not ended(steps[-1].outcome):
            if bound == 0:
                raise Finding(f"{core.name}: the stream does not end\n{socket_where(sc, steps, -1)}")
            bound -= 1
            steps.append(step(SockCall("recv_many")))
        steps.append(step(SockCall(sc.ending)))
        if any(s.outcome[0] == "detached" for s in steps):
            steps.append(step(SockCall("rest")))
        return steps
    finally:
        if fs is not None:
            fs.close()
        reader.close()
        peer.close()


def socket_where(sc: SocketScenario, steps: Sequence[SockStep], i: int) -> str:
    return f"{sc!r}\n{trail(steps, i % len(steps))}"


def compare_sockets(sc: SocketScenario, compiled: list[SockStep], twin: list[SockStep]) -> None:
    for i, (a, b) in enumerate(zip(compiled, twin)):
        differ = disagreement(a, b)
        if differ:
            raise Finding(f"the cores' FramedSockets disagree at step {i}\n{socket_where(sc, twin, i)}\n{differ}")
    if len(compiled) != len(twin):
        raise Finding(
            f"{len(compiled)} steps on the compiled core, {len(twin)} on the twin\n{socket_where(sc, twin, -1)}"
        )


RECEIVE_ERRORS = (BlockingIOError, ConnectionClosed, IncompleteFrame, FrameTooLarge, ProtocolError)
ARGUMENT_ERRORS = (ValueError, TypeError)
# what each call may raise; once the FramedSocket is detached or closed, OSError (EBADF)
SOCKET_ALLOWED = {
    "recv": RECEIVE_ERRORS,
    "next": (BlockingIOError, IncompleteFrame, FrameTooLarge, ProtocolError),  # ConnectionClosed ends it
    "recv_many": (ConnectionClosed, IncompleteFrame, FrameTooLarge, ProtocolError, *ARGUMENT_ERRORS),
    "recv_exactly": RECEIVE_ERRORS + ARGUMENT_ERRORS,
    "recv_until": RECEIVE_ERRORS + ARGUMENT_ERRORS,
    "recv_until_eof": RECEIVE_ERRORS + ARGUMENT_ERRORS,
    "framer": (TypeError,),
    "detach": (),
    "close": (),
}
FRAME_CALLS = ("recv", "next", "recv_many")


class Ledger:
    """What the twin's run must add up to, step by step (docs/sockets.md, docs/errors.md).

    Always: documented exceptions only; frames within the max_size of the framer in
    force; raw reads return what they promise; no call waits for more once the peer
    has shut down.  And until the first FrameTooLarge or ProtocolError (bytes are
    skipped or held back after those): every byte of the stream has been returned
    (a frame as its wire bytes), is buffered or is still in the socket; a call that
    found nothing complete has received all that was written.
    """

    def __init__(self, sc: SocketScenario) -> None:
        self.stream = sc.stream
        self.tls = bool(sc.tls)
        self.framer = sc.framer
        self.limits = {sc.framer.max_size}  # every max_size in play: a pending error may be an old one's
        self.pos = 0  # the stream's bytes returned so far
        self.written = 0
        self.shut = False
        self.closed = False
        self.exact = True  # no byte skipped or held back by an error yet
        # recv_many() returned frames: the error after them, if any, comes with the
        # next receiving call (and is lost by a detach() or close() before it)
        self.pending = False
        self.held = b""  # what detach() handed over

    def problem(self, step: SockStep) -> str | None:
        call, (kind, *rest) = step.call, step.outcome
        if call.method in ("recv_until", "recv_until_eof"):
            limit = dict(call.kwargs).get("max_size", ff.DEFAULT_MAX_SIZE)
            if type(limit) is int:
                self.limits.add(limit)
        if call.method in ("detach", "close") and self.pending:
            self.exact = False
        if self.received(step):
            self.pending = kind == "returned" and call.method == "recv_many" and bool(rest[0])
        if call.method == "write":
            self.written += len(call.args[0])
        elif call.method == "shutdown":
            self.shut = True
        elif call.method == "rest":
            return self.after_detach(rest[0])
        elif kind == "error":
            return self.raised(call, rest[0], rest[1], step.buffered)
        elif kind == "returned" and not self.closed:
            return self.returned(call, rest[0], step.buffered)
        elif kind == "switched":
            self.framer = call.args[0]
            self.limits.add(self.framer.max_size)
        elif kind == "detached" and not self.closed:
            return self.detached(*rest)
        elif kind == "closed":
            self.closed = True
        elif kind == "stopped" and call.method == "next":
            return self.at_end(step.buffered)
        else:
            return f"{call.method} gave {show(step.outcome)}" + (" after detach() or close()" if self.closed else "")
        return None

    @staticmethod
    def received(step: SockStep) -> bool:
        """Whether the call went as far as receiving (not refused for its arguments or
        for a closed socket; recv_exactly(0) needs nothing)."""
        call, outcome = step.call, step.outcome
        if call.method not in SOCKET_ALLOWED or call.method in ("framer", "detach", "close"):
            return False
        refused = outcome[0] == "error" and outcome[1] in (OSError, *ARGUMENT_ERRORS)
        return not refused and call.args[:1] != (0,)

    def raised(self, call: SockCall, etype: type, args: tuple, buffered: int) -> str | None:
        allowed = (OSError, *ARGUMENT_ERRORS) if self.closed else SOCKET_ALLOWED[call.method]
        if call.method == "detach" and self.tls:
            allowed = (ValueError,)  # fastframe's own TLS session cannot be detached
        if etype not in allowed:  # exact types: a subclass is news too
            return f"{call.method} may not raise {etype.__name__}"
        if etype in (FrameTooLarge, ProtocolError):
            self.exact = False
        if etype is FrameTooLarge and not (args[1] in self.limits and args[0] > args[1]):
            return f"FrameTooLarge{args} with max_size in play {sorted(self.limits)}"
        if etype is IncompleteFrame:
            if not (args[0] and type(args[0]) is bytes and (args[1] is None or args[1] > len(args[0]))):
                return "IncompleteFrame with empty partial or expected not beyond it"
            if not self.shut:
                return "IncompleteFrame before the peer's shutdown"
            if self.exact and args[0] != self.stream[self.pos :]:
                return f"IncompleteFrame.partial is not the {len(self.stream) - self.pos} bytes left"
        if etype is ConnectionClosed:
            return self.at_end(buffered)
        if etype is BlockingIOError:
            return self.drained(buffered)
        return None

    def returned(self, call: SockCall, value: Any, buffered: int) -> str | None:
        if call.method in FRAME_CALLS:
            frames = value if call.method == "recv_many" else [value]
            if not frames:
                return self.drained(buffered)
            problem = self.frames(frames)
        elif call.method == "recv_exactly":
            problem = self.raw(value, value, len(value) == call.args[0], f"not {call.args[0]} bytes")
        elif call.method == "recv_until":
            problem = self.until(value, bytes(call.args[0]), dict(call.kwargs))
        else:  # recv_until_eof
            limit = dict(call.kwargs).get("max_size", ff.DEFAULT_MAX_SIZE)
            problem = self.raw(value, value, len(value) <= limit, f"over max_size={limit}")
            if not problem and self.exact and self.pos != len(self.stream):
                problem = f"recv_until_eof() left {len(self.stream) - self.pos} bytes of the stream"
        if problem or not self.exact or buffered <= self.written - self.pos:
            return problem
        return f"buffered={buffered}, but {self.written - self.pos} bytes were written and not returned"

    def frames(self, frames: list[bytes]) -> str | None:
        framer = self.framer
        for frame in frames:
            if isinstance(framer, ff.FixedSize) and len(frame) != framer.size:
                return f"a frame that is not {framer.size} bytes"
            if len(frame) > framer.max_size:
                return f"a frame over max_size={framer.max_size}"
            if self.exact:
                try:
                    self.pos += wire_at(TWIN, framer, self.stream, self.pos, frame)
                except Finding as finding:
                    return str(finding)
        return None

    def until(self, value: bytes, delimiter: bytes, kwargs: dict[str, Any]) -> str | None:
        limit = kwargs.get("max_size", ff.DEFAULT_MAX_SIZE)
        wire = value if kwargs["keep"] else value + delimiter
        # the bytes up to the delimiter's first occurrence, and that occurrence
        if not wire.endswith(delimiter) or wire.find(delimiter) != len(wire) - len(delimiter):
            return f"{value!r} is not the bytes up to {delimiter!r}"
        return self.raw(value, wire, len(value) <= limit, f"over max_size={limit}")

    def raw(self, value: bytes, wire: bytes, promised: bool, otherwise: str) -> str | None:
        """A raw read returned value, which was wire on the stream."""
        if not promised:
            return f"{len(value)} bytes: {otherwise}"
        if self.exact:
            if not self.stream.startswith(wire, self.pos):
                return f"{short(wire)} is not the stream's next bytes, {short(self.stream[self.pos :])}"
            self.pos += len(wire)
        return None

    def drained(self, buffered: int) -> str | None:
        """Nothing was complete: the socket was read until it had nothing more."""
        if self.shut:
            return "no frame yet, after the peer's shutdown"
        if self.exact and buffered != self.written - self.pos:
            return f"buffered={buffered}, but {self.written - self.pos} bytes were written and not returned"
        return None

    def at_end(self, buffered: int) -> str | None:
        if not self.shut:
            return "the end of the stream before the peer's shutdown"
        if buffered or (self.exact and self.pos != len(self.stream)):
            return f"the end of the stream, with buffered={buffered} and {len(self.stream) - self.pos} bytes left"
        return None

    def detached(self, is_given: bool, held: bytes) -> str | None:
        self.closed = True
        self.held = held
        if not is_given:
            return "detach() handed over another socket"
        if self.exact and not self.stream.startswith(held, self.pos):
            return f"detach() handed over {short(held)}, not the stream's next bytes"
        return None

    def after_detach(self, rest: bytes) -> str | None:
        if self.exact and self.held + rest != self.stream[self.pos :]:
            return f"detach() handed over {short(self.held)}, the socket had {short(rest)} after it"
        return None


def check_sockets(sc: SocketScenario, steps: list[SockStep]) -> None:
    ledger = Ledger(sc)
    for i, step in enumerate(steps):
        problem = ledger.problem(step)
        if problem:
            raise Finding(f"{problem}\n{socket_where(sc, steps, i)}")


def socket_scenario(c: Choices) -> None:
    sc = socket_setup(c)
    runs = [run_socket(core, sc) for core in CORES]
    if DIFFERENTIAL:
        compare_sockets(sc, runs[0], runs[-1])
    check_sockets(sc, runs[-1])


def describe_sockets(sc: SocketScenario) -> str:
    lines = [f"socket scenario, {sc.ending} at the end", repr(sc)]
    for core in CORES:
        lines.append(f"{core.name}:")
        try:
            steps = run_socket(core, sc)
        except Finding as finding:  # one_input reports it after this
            lines.append(f"  {str(finding).splitlines()[0]}")
            continue
        lines += [f"  {step.call!r} -> {show(step.outcome)}; buffered={step.buffered}" for step in steps]
    return "\n".join(lines)
