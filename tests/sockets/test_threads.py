"""FramedSocket and threads: what may be shared, and what is refused.

One thread may receive while another sends on the same FramedSocket; frames stay
whole and in order both ways.  A second receiving (or sending) call at the same time
raises RuntimeError, and so does switching the framer while another thread receives.
``close()`` from another thread wakes a blocked call, which raises OSError(EBADF);
the descriptor is closed only once that call has returned, so a socket opened in the
meantime cannot take its number and feed its bytes to the closed FramedSocket.
Framers are immutable and shared freely; every connection in its own thread is
independent of the others.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

import pytest

import fastframe as ff
from tests.support.sockets import (  # noqa: F401 - fixtures
    IO_TIMEOUT,
    Watchdog,
    connected_pair,
    framed,
    pair,
    peer,
    read_all,
    secured,
)

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

FRAMERS = [ff.LengthPrefixed(4), ff.Lines(), ff.VarintPrefixed()]
LARGE = 200_000  # over the compiled core's large-frame threshold (64 KiB)


def payload(i: int) -> bytes:
    """The i-th frame: its number, then filler whose size varies with it (and is now
    and then larger than a socket buffer)."""
    size = LARGE if i % 997 == 0 else (i * 7919) % 300
    return b"%d;" % i + bytes([0x61 + i % 26]) * size


def assert_closed_error(exc: BaseException) -> None:
    assert type(exc) is OSError and exc.errno == errno.EBADF, repr(exc)


# -- one reader and one writer on the same FramedSocket ----------------------------------


def echo(fs: Any, count: int) -> None:
    """The peer: every frame straight back, in batches, then a half-close."""
    echoed = 0
    while echoed < count:
        frames = fs.recv_many()
        fs.send_many(frames)
        echoed += len(frames)
    fs.shutdown_write()


@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
@pytest.mark.parametrize("timeout", [None, 60.0], ids=["blocking", "deadline"])
@pytest.mark.parametrize("kind", ["socketpair", "tls"])
def test_one_thread_receives_while_another_sends(impl: Any, framer: Any, timeout: float | None, kind: str) -> None:
    """A writer thread sends 20 000 frames (send and send_many mixed, some 200 KB)
    while a reader thread on the same FramedSocket receives the echo: every frame
    comes back whole and in order, and the echo's end is a clean EOF.  Over TLS,
    the two threads share one session."""
    count = 20_000
    a, b = connected_pair("tcp4" if kind == "tls" else kind)
    dog = Watchdog([a, b], seconds=120)
    try:
        if kind == "tls":
            a, b = secured(a, b, kind)
        a.settimeout(timeout)
        b.settimeout(timeout)
        fs = framed(impl, a, framer)
        echoer = peer(echo, framed(impl, b, framer), count)

        def write() -> None:
            i = 0
            while i < count:
                if i % 3:
                    fs.send(payload(i))
                    i += 1
                else:
                    batch = [payload(j) for j in range(i, min(i + 50, count))]
                    fs.send_many(batch)
                    i += len(batch)

        def read() -> list[bytes]:
            return list(fs)  # until the echo's clean EOF

        writer, reader = peer(write), peer(read)
        writer.finish(120)
        received = reader.finish(120)
        echoer.finish(120)
        assert len(received) == count
        mismatched = [i for i, frame in enumerate(received) if frame != payload(i)]
        assert not mismatched, f"{len(mismatched)} frames differ, the first at {mismatched[0]}"
    finally:
        a.close()
        b.close()
        dog.cancel()


def test_many_connections_in_many_threads(impl: Any) -> None:
    """32 threads, each with its own connection and all with one shared framer,
    exchange 1 000 frames each at once: each connection gets exactly its own frames."""
    framer = ff.LengthPrefixed(2)
    threads, count = 32, 1_000

    def conversation(n: int) -> list[bytes]:
        a, b = socket.socketpair()
        with framed(impl, a, framer) as fa, framed(impl, b, framer) as fb:
            a.settimeout(IO_TIMEOUT * 6)
            b.settimeout(IO_TIMEOUT * 6)
            sent = [b"%d:%d:" % (n, i) + b"x" * (i % 64) for i in range(count)]
            sender = peer(fa.send_many, sent)
            got: list[bytes] = []
            while len(got) < count:
                got += fb.recv_many()
            sender.finish()
            return [frame for frame, want in zip(got, sent) if frame != want]

    peers = [peer(conversation, n) for n in range(threads)]
    wrong = [p.finish(IO_TIMEOUT * 6) for p in peers]
    assert wrong == [[]] * threads


# -- what is refused --------------------------------------------------------------------


def blocked_sender(fs: Any, b: socket.socket) -> Any:
    """A thread whose send() is blocked on a full socket (the peer reads nothing)."""
    sender = peer(fs.send_many, [b"z" * 8_000_000] * 4)  # more than TCP loopback buffers take
    deadline = time.monotonic() + IO_TIMEOUT
    while fs.pending_output == 0 and sender.is_alive():  # not yet in the send
        assert time.monotonic() < deadline, "the send never started"
        time.sleep(0.001)
    time.sleep(0.05)
    assert sender.is_alive(), "the send finished: the socket buffer took 32 MB"
    return sender


def test_two_threads_sending_at_once(impl: Any, pair: Any) -> None:
    """While one thread's send() waits for room, a second thread's send raises
    RuntimeError and queues nothing; the first send's bytes all arrive."""
    a, b = pair
    fs = framed(impl, a, ff.LengthPrefixed(4))
    sender = blocked_sender(fs, b)
    with pytest.raises(RuntimeError, match="another thread is sending"):
        fs.send(b"second")
    reader = peer(read_all, b)
    sender.finish()
    fs.shutdown_write()
    assert reader.finish() == ((8_000_000).to_bytes(4, "big") + b"z" * 8_000_000) * 4


def test_switching_the_framer_while_another_thread_receives(impl: Any, pair: Any) -> None:
    """Assigning the framer while another thread is blocked receiving raises
    RuntimeError: which bytes the new framing would start at would be a race.  The
    framer stays, and the receiving thread gets its frame with it."""
    a, b = pair
    fs = framed(impl, a, ff.Lines())
    receiver = peer(fs.recv)
    time.sleep(0.1)  # into its wait
    with pytest.raises(RuntimeError, match="another thread is receiving"):
        fs.framer = ff.Netstring()
    assert fs.framer == ff.Lines()
    b.sendall(b"5:hello,\n")
    assert receiver.finish() == b"5:hello,"
    fs.framer = ff.Netstring()  # from the receiving thread's side, between calls: fine


# -- close() from another thread ------------------------------------------------------------

RECEIVES = {
    "recv": lambda fs: fs.recv(),
    "recv_many": lambda fs: fs.recv_many(),
    "iteration": lambda fs: list(fs),
    "recv_exactly": lambda fs: fs.recv_exactly(100),
    "recv_until": lambda fs: fs.recv_until(b"\r\n"),
    "recv_until_eof": lambda fs: fs.recv_until_eof(),
}


@pytest.mark.parametrize("how", RECEIVES)
@pytest.mark.parametrize("timeout", [None, 30.0], ids=["blocking", "deadline"])
def test_close_wakes_a_blocked_receive(impl: Any, pair: Any, how: str, timeout: float | None) -> None:
    """close() from another thread ends a receive blocked waiting for a frame (with
    some bytes of it buffered) with OSError(EBADF), at once; the socket is closed."""
    a, b = pair
    a.settimeout(timeout)
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"part of a fram")
    receiver = peer(RECEIVES[how], fs)
    time.sleep(0.1)  # into its wait
    assert receiver.is_alive()
    started = time.monotonic()
    fs.close()
    with pytest.raises(OSError) as caught:
        receiver.finish()
    assert time.monotonic() - started < IO_TIMEOUT / 2
    assert_closed_error(caught.value)
    assert a.fileno() == -1
    assert fs.socket is None


@pytest.mark.parametrize("timeout", [None, 30.0], ids=["blocking", "deadline"])
def test_close_wakes_a_blocked_send(impl: Any, pair: Any, timeout: float | None) -> None:
    """close() from another thread ends a send blocked on a full socket with
    OSError(EBADF) (not a broken pipe, nor an error of the dropped queue); the
    socket is closed and nothing stays queued."""
    a, b = pair
    a.settimeout(timeout)
    fs = framed(impl, a, ff.LengthPrefixed(4))
    sender = blocked_sender(fs, b)
    fs.close()
    with pytest.raises(OSError) as caught:
        sender.finish()
    assert_closed_error(caught.value)
    assert a.fileno() == -1
    assert fs.pending_output == 0


def test_a_closed_descriptor_is_not_read_by_the_call_it_woke(impl: Any) -> None:
    """close() from another thread while a receive runs, then at once a new socket
    that (the descriptor number being free) may take the old number, with bytes in
    it: the woken call must never return them.  Closing the descriptor under the
    call let it read the new socket's bytes in about 3% of rounds."""
    rounds = 400
    framer = ff.Lines()
    outcomes: dict[str, int] = {}
    for _ in range(rounds):
        a, b = socket.socketpair()
        fs = framed(impl, a, framer)

        def receive(fs: Any = fs) -> list[bytes]:
            got: list[bytes] = []
            try:
                while True:
                    got += fs.recv_many()
            except OSError as exc:
                assert_closed_error(exc)
            return got

        receiver = peer(receive)
        fs.close()
        c, d = socket.socketpair()
        d.sendall(b"another connection's line\n" * 10)
        try:
            got = receiver.finish()
        finally:
            b.close()
            c.close()
            d.close()
        outcome = "read another connection's bytes" if got else "OSError(EBADF)"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes == {"OSError(EBADF)": rounds}


def test_close_with_no_call_in_progress_closes_at_once(impl: Any, pair: Any) -> None:
    """With no call in another thread, close() closes the socket before it returns."""
    a, b = pair
    fs = framed(impl, a, ff.Lines())
    fs.send(b"x")
    fs.close()
    assert a.fileno() == -1
    assert b.recv(10) == b"x\n"
    assert b.recv(10) == b""
