"""The FramedSocket cases over one socketpair a case: construction, every send and
receive call, their errors (too large, malformed, would block, timeout, closed),
the framer switch, detach, output queued behind a full socket buffer."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from fastframe._cores import Core

from .framers import MAX
from .measuring import Case, Probe, Step
from .steps import Unexpected, closing_all, drain, equal, raises, sink


def path_suffix(core: Core) -> str:
    """What a case name says of the FramedSocket's path: nothing for the descriptor's."""
    return "" if core.fd_path else "-object"


def socket_cases(ff: ModuleType, core: Core) -> Iterator[Case]:
    framer = core.bind(ff.LengthPrefixed(4, max_size=1 << 20))
    small = core.bind(ff.LengthPrefixed(4, max_size=MAX))
    lines = core.bind(ff.Lines())
    netstring = core.bind(ff.Netstring())
    payload = b"hello world"
    wire = framer.encode(payload)
    buffer = bytearray(256 * 1024)
    name = f"socket{path_suffix(core)}"

    @contextlib.contextmanager
    def connected(
        make_step: Callable[[Any, socket.socket, socket.socket], Step], fs_framer: Any = framer, **tracked: object
    ) -> Iterator[Probe]:
        a, b = socket.socketpair()
        with closing_all(a, b):
            fs = core.framed_socket(a, fs_framer)
            objects = {"fs": fs, "a": a, "b": b, "framer": fs_framer, "payload": payload, **tracked}
            yield Probe(make_step(fs, a, b), objects)
            fs.close()

    def case(label: str, make_step: Callable[[Any, socket.socket, socket.socket], Step], **kwargs: Any) -> Case:
        return Case(f"{name}/{label}", "socket", lambda: connected(make_step, **kwargs))

    def construct(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        return lambda: core.framed_socket(a, framer)

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def construct_invalid(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            raises(TypeError, core.framed_socket, object(), framer)
            raises(TypeError, core.framed_socket, a, object())
            raises(ValueError, core.framed_socket, udp, framer)

        return step

    def send(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            fs.send(payload)
            drain(b, len(wire), buffer)

        return step

    pg = core.bind(ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0))
    pg_wire = pg.encode(payload, head=b"Q")

    def send_head(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            fs.send(payload, head=b"Q")
            fs.send_many([payload, payload], head=b"Q")
            drain(b, 3 * len(pg_wire), buffer)

        return step

    several = [payload] * 8

    def send_many(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            fs.send_many(several)
            drain(b, 8 * len(wire), buffer)

        return step

    large = bytes(100_000)  # over LARGE_FRAME: sent from the caller's buffer
    mixed = [payload, large, payload]

    @contextlib.contextmanager
    def send_large() -> Iterator[Probe]:
        a, b = socket.socketpair()
        # the peer reads in a thread: more than the socket buffer holds is sent at once
        reader = threading.Thread(target=sink, args=(b,))
        with closing_all(a, b):
            fs = core.framed_socket(a, framer)
            reader.start()

            def step() -> None:
                fs.send(large)
                fs.send_many(mixed)

            yield Probe(step, {"fs": fs, "a": a, "b": b, "framer": framer, "large": large, "mixed": mixed})
            fs.close()
            reader.join()

    view = memoryview(wire)

    def sendall(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            fs.sendall(wire)
            fs.sendall(view)
            drain(b, 2 * len(wire), buffer)

        return step

    too_large = b"x" * (MAX + 1)

    def send_errors(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            raises(TypeError, fs.send, "text")
            raises(ff.FrameTooLarge, fs.send, too_large)
            raises(ValueError, fs.send, payload, head=b"Q")  # offset 0: no head
            raises(TypeError, fs.send_many, [payload, 42])
            raises(TypeError, fs.sendall, "text")

        return step

    def recv(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            b.sendall(wire)
            equal(fs.recv(), payload)

        return step

    def recv_many(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        burst = wire * 8

        def step() -> None:
            b.sendall(burst)
            got = 0
            while got < 8:
                got += len(fs.recv_many())
            b.sendall(burst)
            equal(len(fs.recv_many(max_frames=5)), 5)
            equal(len(fs.recv_many(3)), 3)
            raises(ValueError, fs.recv_many, 0)

        return step

    def iterate(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        burst = wire * 4

        def step() -> None:
            b.sendall(burst)
            for _, frame in zip(range(4), fs):
                equal(frame, payload)

        return step

    def raw_reads(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        data = b"TYPE" + b"key: value\r\n\r\n" + b"x" * 10 + b"\n" + b"rest\n"

        def step() -> None:
            b.sendall(data)
            equal(fs.recv_exactly(4), b"TYPE")
            equal(fs.recv_until(b"\r\n\r\n"), b"key: value")
            raises(ff.FrameTooLarge, fs.recv_until, b"\n", max_size=4)  # skips to the b"\n"
            equal(fs.recv_until(b"\n", keep=True), b"rest\n")
            raises(ValueError, fs.recv_exactly, -1)
            raises(ValueError, fs.recv_until, b"")

        return step

    line = b"a line\n"

    def framer_switch(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            b.sendall(wire + line)
            equal(fs.recv(), payload)
            fs.framer = lines
            equal(fs.recv(), b"a line")
            fs.framer = framer
            raises(TypeError, setattr, fs, "framer", "not a framer")

        return step

    stream = ff.LengthPrefixed(4).encode(b"x" * (3 * MAX)) + wire

    def recv_too_large(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            b.sendall(stream)
            raises(ff.FrameTooLarge, fs.recv)
            equal(fs.recv(), payload)

        return step

    def recv_protocol_error(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        fs.detach()

        def step() -> None:
            framed = core.framed_socket(a, netstring)
            b.sendall(b"5:hello,5:hello!")
            equal(framed.recv(), b"hello")
            raises(ff.ProtocolError, framed.recv)
            raises(ff.ProtocolError, framed.recv_many)
            framed.detach()

        return step

    half = wire[:2]

    def would_block(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        a.setblocking(False)
        b.sendall(half)  # half a header: nothing complete

        def step() -> None:
            raises(BlockingIOError, fs.recv)
            equal(fs.recv_many(), [])
            raises(BlockingIOError, fs.recv_exactly, 100)
            raises(BlockingIOError, fs.recv_until, b"\n")

        return step

    def timeout(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        # a deadline that has passed before the first system call returns
        def step() -> None:
            a.settimeout(1e-9)
            raises(TimeoutError, fs.recv)
            raises(TimeoutError, fs.recv_many)
            raises(TimeoutError, fs.recv_until, b"\n")
            b.sendall(half)
            raises(TimeoutError, fs.recv)  # half a frame: kept for the next call
            b.sendall(wire[2:])
            a.settimeout(None)
            equal(fs.recv(), payload)

        return step

    def closed(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        fs.close()

        def step() -> None:
            raises(OSError, fs.recv)
            raises(OSError, fs.recv_many)
            raises(OSError, fs.recv_exactly, 1)
            raises(OSError, fs.send, payload)
            raises(OSError, fs.send_many, several)
            raises(OSError, fs.sendall, wire)
            raises(OSError, fs.flush)
            raises(OSError, fs.fileno)
            fs.close()

        return step

    def detach(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        fs.detach()

        def step() -> None:
            framed = core.framed_socket(a, framer)
            b.sendall(wire + half)
            equal(framed.recv(), payload)
            sock, rest = framed.detach()
            equal(rest, half)

        return step

    yield case("construct", construct)
    yield case("construct-invalid", construct_invalid, udp=udp)
    yield case("send", send)
    yield case("send-head", send_head, fs_framer=pg, pg_wire=pg_wire)
    yield case("send_many", send_many, payloads=several)
    yield Case(f"{name}/send-large", "socket", send_large)
    yield case("sendall", sendall, wire=wire, view=view)
    yield case("send-errors", send_errors, fs_framer=small, big=too_large)
    yield case("recv", recv)
    yield case("recv_many", recv_many)
    yield case("iterate", iterate)
    yield case("recv_exactly-recv_until", raw_reads)
    yield case("framer-switch", framer_switch, lines=lines)
    yield case("recv-too-large", recv_too_large, fs_framer=small, stream=stream)
    yield case("recv-protocol-error", recv_protocol_error, netstring=netstring)
    yield case("recv-would-block", would_block)
    yield case("recv-timeout", timeout)
    yield case("closed", closed)
    yield case("detach", detach)
    yield Case(f"{name}/flush-full-buffer", "socket", lambda: full_buffer(core, framer, timeout=0.0))
    yield Case(f"{name}/send-timeout", "socket", lambda: full_buffer(core, framer, timeout=1e-9))


@contextlib.contextmanager
def full_buffer(core: Core, framer: Any, timeout: float) -> Iterator[Probe]:
    """Sends into a full socket buffer, non-blocking or with a deadline already
    past: output queues, and flush() sends it, non-blocking, as the peer reads."""
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    payload = bytes(20_000)
    size = len(framer.encode(payload))
    buffer = bytearray(64 * 1024)
    failure = TimeoutError if timeout else BlockingIOError
    with closing_all(a, b):
        b.setblocking(False)
        fs = core.framed_socket(a, framer)

        def step() -> None:
            a.settimeout(timeout)
            if timeout:
                raises(TimeoutError, fs.send, payload)
            else:
                fs.send(payload)
            if not (fs.wants_write and fs.pending_output > 0):
                raise Unexpected("nothing queued")
            raises(failure, fs.detach)  # both flush first
            raises(failure, fs.shutdown_write)
            a.settimeout(0.0)
            received = 0
            while received < size:
                fs.flush()
                try:
                    received += b.recv_into(buffer)
                except BlockingIOError:
                    pass
            equal((fs.wants_write, fs.pending_output, fs.flush()), (False, 0, True))

        yield Probe(step, {"fs": fs, "a": a, "b": b, "framer": framer, "payload": payload})
        fs.close()
