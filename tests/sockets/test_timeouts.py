"""FramedSocket timeouts and signals, on each core (over socketpair, and the main
cases over each transport).

The socket's timeout is a deadline for the whole call (a peer trickling bytes does not
extend it); TimeoutError loses nothing, received bytes stay buffered and unsent ones
stay queued.  A blocked call in the main thread runs Python signal handlers: Ctrl-C
(SIGINT with the default handler) and an exception from a SIGALRM handler interrupt it
promptly, a handler that returns lets it go on, and no byte is lost either way.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import fastframe as ff
from fastframe.errors import ConnectionClosed
from tests.support.platforms import HAVE_POSIX_SIGNALS, requires_posix_signals
from tests.support.sockets import (  # noqa: F401 - fixtures
    IO_TIMEOUT,
    MiB,
    elapsed_of,
    end_sending,
    framed,
    later,
    pair,
    peer,
    read_all,
    transport,
)

LP = ff.LengthPrefixed(4)
FRAME = b"\x00\x00\x00\x0bhello world"  # LP: one frame, payload b"hello world"

# call name -> (framer, whole wire of one item, how to read it, what it returns)
CALLS: dict[str, tuple[Any, bytes, Callable[[Any], Any], Any]] = {
    "recv": (LP, FRAME, lambda fs: fs.recv(), b"hello world"),
    "recv_many": (LP, FRAME, lambda fs: fs.recv_many(), [b"hello world"]),
    "iter": (LP, FRAME, lambda fs: next(iter(fs)), b"hello world"),
    "recv_exactly": (LP, b"0123456789abcdef", lambda fs: fs.recv_exactly(16), b"0123456789abcdef"),
    "recv_until": (LP, b"GET / HTTP/1.0\r\n\r\n", lambda fs: fs.recv_until(b"\r\n\r\n"), b"GET / HTTP/1.0"),
}

# -- timeouts ----------------------------------------------------------------------------------


def stall_then_finish(impl: Any, a: socket.socket, b: socket.socket, call: str) -> None:
    framer, wire, read, result = CALLS[call]
    fs = framed(impl, a, framer)
    a.settimeout(0.2)
    half = len(wire) // 2
    b.sendall(wire[:half])
    exc, elapsed = elapsed_of(lambda: read(fs), TimeoutError)
    assert isinstance(exc, socket.timeout)
    assert 0.15 <= elapsed < 1.0, elapsed
    assert fs.buffered == half
    b.sendall(wire[half:])
    a.settimeout(IO_TIMEOUT)
    assert read(fs) == result
    assert fs.buffered == 0


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_deadline_too_short_to_wait_still_takes_what_has_arrived(impl: Any, pair: Any, call: str) -> None:
    """A timeout of 1 ns is over before the call could wait: what the peer has
    already sent is taken all the same (socket.socket reads it too), on every path;
    then, with nothing more there, TimeoutError.  The socket-method paths (the twin's,
    and the compiled core's without a descriptor) raised TimeoutError at once."""
    framer, wire, read, result = CALLS[call]
    a, b = pair
    fs = framed(impl, a, framer)
    b.sendall(wire)
    a.settimeout(1e-9)
    assert read(fs) == result
    with pytest.raises(TimeoutError):
        read(fs)
    assert fs.buffered == 0


@pytest.mark.parametrize("call", sorted(CALLS))
def test_timeout_mid_frame_loses_nothing(impl: Any, pair: Any, call: str) -> None:
    """Half of what the call needs, then a stall: TimeoutError after about the timeout
    (0.2 s); when the rest arrives the next call returns the whole thing."""
    stall_then_finish(impl, *pair, call)


def test_timeout_mid_frame_over_each_transport(impl: Any, transport: Any) -> None:
    """The same for recv() over TCP v4/v6, AF_UNIX and socketpair."""
    stall_then_finish(impl, *transport, "recv")


PAYLOAD_LONG = b"x" * 40
FRAME_LONG = b"\x00\x00\x00\x28" + PAYLOAD_LONG  # 44 bytes: 2.2 s at one byte per 0.05 s

TRICKLED: dict[str, tuple[bytes, Callable[[Any], Any], Any]] = {
    "recv": (FRAME_LONG, lambda fs: fs.recv(), PAYLOAD_LONG),
    "recv_many": (FRAME_LONG, lambda fs: fs.recv_many(), [PAYLOAD_LONG]),
    "recv_exactly": (FRAME_LONG, lambda fs: fs.recv_exactly(44), FRAME_LONG),
    "recv_until": (PAYLOAD_LONG + b"\r\n", lambda fs: fs.recv_until(b"\r\n"), PAYLOAD_LONG),
}


def trickle_past_deadline(impl: Any, a: socket.socket, b: socket.socket, call: str) -> None:
    wire, read, result = TRICKLED[call]
    fs = framed(impl, a, LP)
    a.settimeout(0.2)
    stop = threading.Event()
    sent = [0]

    def trickle() -> None:
        for i in range(len(wire) - 1):  # never the last byte: the call cannot complete
            if stop.wait(0.05):
                return
            b.sendall(wire[i : i + 1])
            sent[0] = i + 1

    p = peer(trickle)
    try:
        exc, elapsed = elapsed_of(lambda: read(fs), TimeoutError)
    finally:
        stop.set()
        p.finish()
    assert 0.15 <= elapsed < 0.5, elapsed
    b.sendall(wire[sent[0] :])
    a.settimeout(IO_TIMEOUT)
    assert read(fs) == result


@pytest.mark.parametrize("call", sorted(TRICKLED))
def test_timeout_is_a_deadline_for_the_whole_call(impl: Any, pair: Any, call: str) -> None:
    """A peer trickling one byte every 0.05 s, for an item that needs 2.2 s: the call
    still times out near its 0.2 s deadline, and keeps every byte."""
    trickle_past_deadline(impl, *pair, call)


def test_trickle_deadline_over_each_transport(impl: Any, transport: Any) -> None:
    """The same for recv() over every transport."""
    trickle_past_deadline(impl, *transport, "recv")


def test_settimeout_between_calls_takes_effect(impl: Any, pair: Any) -> None:
    """The mode is read from the socket at every call: blocking, timeout, non-blocking,
    timeout again, all on one FramedSocket."""
    a, b = pair
    fs = framed(impl, a, ff.Lines())
    a.settimeout(0.1)
    exc, elapsed = elapsed_of(fs.recv, TimeoutError)
    assert elapsed < 1.0
    a.setblocking(False)
    exc, elapsed = elapsed_of(fs.recv, BlockingIOError)
    assert elapsed < 0.05
    assert fs.recv_many() == []
    a.settimeout(0.3)
    exc, elapsed = elapsed_of(fs.recv, TimeoutError)
    assert 0.25 <= elapsed < 1.0, elapsed
    a.settimeout(None)
    p = later(0.1, b.sendall, b"line\n")
    assert fs.recv() == b"line"
    p.finish()


def test_buffered_frames_come_out_even_with_a_tiny_timeout(impl: Any, pair: Any) -> None:
    """Frames already here are returned at once, even with a 1 ms timeout."""
    a, b = pair
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"a\nb\nc\n")
    a.settimeout(0.001)
    assert fs.recv() == b"a"
    assert fs.recv_many() == [b"b", b"c"]
    with pytest.raises(TimeoutError):
        fs.recv()


def test_send_timeout_keeps_the_remainder_queued(impl: Any, transport: Any) -> None:
    """A sender whose peer does not read: TimeoutError near the deadline, the unsent
    remainder in pending_output; it goes out, whole and first, before a later send."""
    a, b = transport
    fs = framed(impl, a, LP)
    big = [bytes([i]) * (2 * MiB) for i in range(8)]  # 16 MiB: more than the socket buffers hold
    a.settimeout(0.2)
    exc, elapsed = elapsed_of(lambda: fs.send_many(big), TimeoutError)
    assert 0.15 <= elapsed < 1.0, elapsed
    assert 0 < fs.pending_output <= 8 * (2 * MiB + 4)
    assert fs.wants_write
    reader = peer(read_all, b)
    a.settimeout(IO_TIMEOUT)
    fs.send(b"after")
    assert fs.pending_output == 0 and not fs.wants_write
    assert fs.flush() is True
    end_sending(fs)
    data = reader.finish()
    frames = ff.LengthPrefixed(4).decoder().feed(data)
    assert [len(f) for f in frames] == [2 * MiB] * 8 + [5]
    assert frames == big + [b"after"]


# -- signals -------------------------------------------------------------------------------------


class Alarm(Exception):
    pass


@pytest.fixture
def main_thread_signals() -> Iterator[None]:
    """Default SIGINT handler; SIGALRM handler and itimer restored afterwards."""
    if not HAVE_POSIX_SIGNALS:
        pytest.skip(requires_posix_signals.kwargs["reason"])
    assert threading.current_thread() is threading.main_thread()
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_alrm = signal.getsignal(signal.SIGALRM)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alrm)
        signal.signal(signal.SIGINT, old_int)


def interrupt_main_after(seconds: float) -> threading.Thread:
    """Ctrl-C: SIGINT to the main thread from another thread, after ``seconds``."""
    main = threading.main_thread().ident
    assert main is not None
    return later(seconds, signal.pthread_kill, main, signal.SIGINT)


@pytest.mark.parametrize("mode", ["blocking", "timeout"])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_sigint_interrupts_a_blocked_call(
    impl: Any, pair: Any, main_thread_signals: None, call: str, mode: str
) -> None:
    """SIGINT 0.1 s into a call blocked mid-frame: KeyboardInterrupt within a fraction
    of a second; then the rest arrives and the call returns it all."""
    a, b = pair
    framer, wire, read, result = CALLS[call]
    a.settimeout(None if mode == "blocking" else 5.0)
    fs = framed(impl, a, framer)
    b.sendall(wire[:3])
    killer = interrupt_main_after(0.1)
    try:
        exc, elapsed = elapsed_of(lambda: read(fs), KeyboardInterrupt)
    finally:
        killer.join(IO_TIMEOUT)
    assert 0.09 <= elapsed < 0.6, elapsed
    b.sendall(wire[3:])
    assert read(fs) == result


@pytest.mark.parametrize("call", ["recv", "recv_many", "recv_exactly", "recv_until_eof"])
def test_alarm_handler_exception_propagates(impl: Any, pair: Any, main_thread_signals: None, call: str) -> None:
    """A SIGALRM handler that raises (signal.setitimer, 0.1 s): its exception comes out
    of the blocked call promptly, and the FramedSocket still works afterwards."""
    a, b = pair

    def on_alarm(signum: int, frame: Any) -> None:
        raise Alarm("alarm")

    signal.signal(signal.SIGALRM, on_alarm)
    fs = framed(impl, a, LP)
    b.sendall(FRAME[:6])
    read = {
        "recv": fs.recv,
        "recv_many": fs.recv_many,
        "recv_exactly": lambda: fs.recv_exactly(len(FRAME)),
        "recv_until_eof": fs.recv_until_eof,
    }[call]
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    exc, elapsed = elapsed_of(read, Alarm)
    assert exc.args == ("alarm",)
    assert 0.09 <= elapsed < 0.6, elapsed
    b.sendall(FRAME[6:])
    if call == "recv_until_eof":
        b.shutdown(socket.SHUT_WR)
        assert fs.recv_until_eof() == FRAME
    elif call == "recv_exactly":
        assert fs.recv_exactly(len(FRAME)) == FRAME
    else:
        assert fs.recv() == b"hello world"


def test_handler_that_returns_lets_the_call_go_on(impl: Any, pair: Any, main_thread_signals: None) -> None:
    """A handler that returns normally runs while recv() is blocked (it is what lets the
    peer send the rest), and recv() then returns the frame."""
    a, b = pair
    ran = threading.Event()
    ran_in_main: list[bool] = []

    def on_alarm(signum: int, frame: Any) -> None:
        ran_in_main.append(threading.current_thread() is threading.main_thread())
        ran.set()

    signal.signal(signal.SIGALRM, on_alarm)
    fs = framed(impl, a, LP)
    b.sendall(FRAME[:5])

    def finish_after_handler() -> bool:
        handled = ran.wait(5.0)
        b.sendall(FRAME[5:])
        return handled

    p = peer(finish_after_handler)
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    start = time.monotonic()
    assert fs.recv() == b"hello world"
    assert p.finish() is True, "the handler did not run while recv() was blocked"
    assert ran_in_main == [True]
    assert time.monotonic() - start < 2.0


def test_sigint_during_iteration(impl: Any, pair: Any, main_thread_signals: None) -> None:
    """Ctrl-C interrupts `for frame in fs` waiting for the next frame; the loop can be
    resumed and ends at EOF with every frame."""
    a, b = pair
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"one\ntw")
    got = []
    killer = interrupt_main_after(0.1)
    with pytest.raises(KeyboardInterrupt):
        for frame in fs:
            got.append(frame)
    killer.join(IO_TIMEOUT)
    b.sendall(b"o\nthree\n")
    b.shutdown(socket.SHUT_WR)
    got += list(fs)
    assert got == [b"one", b"two", b"three"]
    with pytest.raises(ConnectionClosed):
        fs.recv()


def test_signal_during_a_blocked_send_keeps_the_rest_queued(
    impl: Any, pair: Any, main_thread_signals: None
) -> None:
    """A blocking send_many() whose peer does not read, interrupted by a SIGALRM handler
    that raises: the exception comes out, what the kernel did not take stays queued,
    and flush() sends it, in order, once the peer reads."""
    a, b = pair
    a.settimeout(None)

    def on_alarm(signum: int, frame: Any) -> None:
        raise Alarm("alarm")

    signal.signal(signal.SIGALRM, on_alarm)
    fs = framed(impl, a, LP)
    payloads = [i.to_bytes(4, "big") * 256 for i in range(16 * 1024)]  # 16 MiB of frames
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    exc, elapsed = elapsed_of(lambda: fs.send_many(payloads), Alarm)
    assert elapsed < 0.6, elapsed
    assert 0 < fs.pending_output < len(LP.encode_many(payloads))
    got: list[bytes] = []

    def receive_everything() -> None:
        b.settimeout(IO_TIMEOUT)
        reader = framed(impl, b, LP)
        while len(got) < len(payloads):
            got.extend(reader.recv_many())

    p = peer(receive_everything)
    assert fs.flush() is True
    p.finish()
    assert got == payloads
