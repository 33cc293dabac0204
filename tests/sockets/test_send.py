"""FramedSocket sending, on each core and over each transport: every byte in order or
an exception; frames and raw sendall() bytes in call order; head= for LengthPrefixed
with an offset; encoding errors raised before anything is sent; a non-blocking sender
whose peer does not read (queue, wants_write, flush); shutdown_write() half-close
request/reply; a peer that is gone (BrokenPipeError, never SIGPIPE)."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import fastframe as ff
from fastframe import _messages
from fastframe.errors import ConnectionClosed, FrameTooLarge
from tests.support.children import CHILD_CORE
from tests.support.platforms import requires_sigpipe
from tests.support.sockets import (  # noqa: F401 - fixtures
    IO_TIMEOUT,
    MiB,
    end_sending,
    framed,
    needs_detach,
    needs_half_close,
    pair,
    peer,
    read_all,
    transport,
)

LP = ff.LengthPrefixed(4)


def lp(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def received_by_peer(b: socket.socket, fs: Any) -> bytes:
    """Half-close ``fs`` and return every byte ``b`` got."""
    reader = peer(read_all, b)
    end_sending(fs)
    return reader.finish()  # type: ignore[no-any-return]


# -- order and encoding ----------------------------------------------------------------------


def test_frames_and_raw_bytes_in_call_order(impl: Any, transport: Any) -> None:
    """send, sendall, send_many, in any mix: the peer sees exactly that byte sequence;
    bytes-like payloads of every kind are accepted."""
    a, b = transport
    fs = framed(impl, a, LP)
    assert fs.send(b"one") is None
    fs.sendall(b"RAW")
    fs.send_many([b"two", bytearray(b"three"), memoryview(b"xfourx")[1:-1]])
    fs.sendall(bytearray(b"\x00\x00\x00\x01!"))
    fs.send(memoryview(b"five"))
    fs.send_many([])
    fs.send_many(iter([b"", b"six"]))
    fs.sendall(b"")
    expected = lp(b"one") + b"RAW" + lp(b"two") + lp(b"three") + lp(b"four") + b"\x00\x00\x00\x01!"
    expected += lp(b"five") + lp(b"") + lp(b"six")
    assert received_by_peer(b, fs) == expected


@pytest.mark.parametrize(
    ("framer", "payloads", "wire"),
    [
        (ff.Lines(), [b"a", b"", b"b c"], b"a\n\nb c\n"),
        (ff.Delimited(b"\r\n\r\n", keep=True), [b"x\r", b"\n"], b"x\r\r\n\r\n\n\r\n\r\n"),
        (ff.FixedSize(3), [b"abc", b"def"], b"abcdef"),
        (ff.Netstring(), [b"hello", b""], b"5:hello,0:,"),
        (ff.VarintPrefixed(), [b"a" * 300], b"\xac\x02" + b"a" * 300),
        (ff.LengthPrefixed(2, byteorder="little", adjustment=-2), [b"ab"], b"\x04\x00ab"),
    ],
    ids=repr,
)
def test_send_and_send_many_use_the_framer(impl: Any, transport: Any, framer: Any, payloads: list, wire: bytes) -> None:
    """The wire of each framer (computed by hand), from send_many and from send."""
    a, b = transport
    fs = framed(impl, a, framer)
    fs.send_many(payloads)
    for payload in payloads:
        fs.send(payload)
    assert received_by_peer(b, fs) == wire + wire


def test_large_frames_are_sent_whole(impl: Any, transport: Any) -> None:
    """Frames of 64 KiB .. 8 MiB, alone and in a batch, arrive whole (the peer reads
    while the sender blocks)."""
    a, b = transport
    fs = framed(impl, a, LP)
    big = [os.urandom(n) for n in (65_536, 8 * MiB, 100, 1_000_000)]
    reader = peer(read_all, b)
    fs.send(big[1])
    fs.send_many(big)
    end_sending(fs)
    assert reader.finish() == lp(big[1]) + b"".join(lp(p) for p in big)


def test_send_head_postgresql_style(impl: Any, transport: Any) -> None:
    """LengthPrefixed(4, offset=1, adjustment=-4, strip=0): send(head=b"Q") writes the
    tag, a length counting itself, and the body; send_many puts head on every frame."""
    a, b = transport
    framer = ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0)
    fs = framed(impl, a, framer)
    fs.send(b"SELECT 1;", head=b"Q")
    fs.send_many([b"a", b""], head=b"P")
    expected = b"Q\x00\x00\x00\x0dSELECT 1;" + b"P\x00\x00\x00\x05a" + b"P\x00\x00\x00\x04"
    assert received_by_peer(b, fs) == expected


def test_receiving_postgresql_messages(impl: Any, transport: Any) -> None:
    """The same framer on the receiving side: each frame is tag + length + body."""
    a, b = transport
    framer = ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0)
    sender, receiver = framed(impl, b, framer), framed(impl, a, framer)
    sender.send(b"SELECT 1;", head=b"Q")
    sender.send(b"", head=b"X")
    assert receiver.recv_many(max_frames=1) == [b"Q\x00\x00\x00\x0dSELECT 1;"]
    assert receiver.recv() == b"X\x00\x00\x00\x04"


def test_encoding_errors_send_nothing(impl: Any, transport: Any) -> None:
    """FrameTooLarge / ValueError / TypeError from send, send_many (every payload is
    checked before any byte goes out) and a wrong head: nothing is sent or queued."""
    a, b = transport
    fs = framed(impl, a, ff.LengthPrefixed(1, max_size=10))
    with pytest.raises(FrameTooLarge) as info:
        fs.send(b"x" * 11)
    assert info.value.args == (11, 10)
    with pytest.raises(FrameTooLarge):
        fs.send_many([b"ok", b"fine", b"x" * 11])
    with pytest.raises(TypeError):
        fs.send_many([b"ok", 5])
    with pytest.raises(TypeError):
        fs.send("text")
    with pytest.raises(TypeError):
        fs.send_many(None)
    with pytest.raises(TypeError):
        fs.sendall("text")
    with pytest.raises(ValueError):
        fs.send(b"x", head=b"Q")  # no offset: no head
    assert fs.pending_output == 0
    fs.send(b"last")
    assert received_by_peer(b, fs) == b"\x04last"


@pytest.mark.parametrize("how", ["send", "send_many"])
def test_a_large_payload_needs_the_head_its_framing_has(impl: Any, pair: Any, how: str) -> None:
    """A payload of 64 KiB or more goes out between its frame's head and tail,
    uncopied; with LengthPrefixed(offset=1) and no head= that head is refused as
    a small payload's is (the compiled core copied it from a NULL pointer)."""
    a, b = pair
    fs = framed(impl, a, ff.LengthPrefixed(4, offset=1))
    big = bytes(range(256)) * 256
    with pytest.raises(ValueError, match=r"^head must be exactly offset=1 bytes, got 0$"):
        if how == "send":
            fs.send(big)
        else:
            fs.send_many([b"small", big])
    assert fs.pending_output == 0
    reader = peer(read_all, b)
    fs.send(big, head=b"Q")
    fs.shutdown_write()
    assert reader.finish() == b"Q" + len(big).to_bytes(4, "big") + big


@pytest.mark.parametrize(
    ("call", "refused"),
    [
        (lambda fs: fs.send("text"), "text"),
        (lambda fs: fs.send(bytes(70_000).decode()), bytes(70_000).decode()),
        (lambda fs: fs.send(5), 5),
        (lambda fs: fs.send_many([b"ok", "text"]), "text"),
        (lambda fs: fs.send_many([b"ok", None]), None),
        (lambda fs: fs.sendall("text"), "text"),
        (lambda fs: fs.sendall(5), 5),
    ],
    ids=["send-str", "send-long-str", "send-int", "send_many-str", "send_many-None", "sendall-str", "sendall-int"],
)
def test_what_is_not_bytes_is_refused_in_the_same_words(impl: Any, pair: Any, call: Any, refused: Any) -> None:
    """Every core refuses a payload that is not bytes-like with the same message,
    saying what it got and what to do (sendall said
    "memoryview: a bytes-like object is required"), and queues nothing."""
    a, _ = pair
    fs = framed(impl, a, LP)
    with pytest.raises(TypeError) as info:
        call(fs)
    assert str(info.value) == str(_messages.not_bytes_like(refused))
    assert f"expected a bytes-like object, got {type(refused).__name__}: " in str(info.value)
    assert ("encode it first" if isinstance(refused, str) else "pass bytes") in str(info.value)
    assert fs.pending_output == 0


def test_what_is_not_iterable_is_refused_in_the_same_words(impl: Any, pair: Any) -> None:
    a, _ = pair
    fs = framed(impl, a, LP)
    with pytest.raises(TypeError, match=r"^payloads must be an iterable of bytes-like objects$"):
        fs.send_many(5)
    assert fs.pending_output == 0


def test_delimiter_and_size_refusals(impl: Any, transport: Any) -> None:
    a, b = transport
    fs = framed(impl, a, ff.Delimited(b"<END>"))
    with pytest.raises(ValueError):
        fs.send(b"a<END>b")
    with pytest.raises(ValueError):
        fs.send_many([b"ok", b"<END>"])
    fs.framer = ff.FixedSize(2)
    with pytest.raises(ValueError):
        fs.send(b"abc")
    fs.framer = ff.LengthPrefixed(4, offset=1)
    with pytest.raises(ValueError):
        fs.send(b"x")  # head missing
    with pytest.raises(ValueError):
        fs.send(b"x", head=b"QQ")
    fs.send(b"x", head=b"Q")
    assert received_by_peer(b, fs) == b"Q\x00\x00\x00\x01x"


# -- a non-blocking sender whose peer does not read ---------------------------------------------


def numbered(i: int) -> bytes:
    return i.to_bytes(4, "big") * 1024  # 4 KiB, says which frame it is


def fill_queue(fs: Any, past: int) -> list[bytes]:
    """send_many batches until more than ``past`` bytes are queued; never raises."""
    sent: list[bytes] = []
    while fs.pending_output <= past:
        assert len(sent) < 100_000, "the queue does not grow"
        batch = [numbered(len(sent) + k) for k in range(64)]
        fs.send_many(batch)
        sent += batch
        assert fs.wants_write == (fs.pending_output > 0)
    return sent


def flush_until_done(fs: Any, sock: socket.socket) -> None:
    while not fs.flush():
        assert fs.wants_write
        _, writable, _ = select.select([], [sock], [], IO_TIMEOUT)
        assert writable, "the socket never became writable"
    assert fs.pending_output == 0 and not fs.wants_write


def test_nonblocking_sender_queues_and_flushes(impl: Any, transport: Any) -> None:
    """Non-blocking, peer not reading: send/send_many queue (no BlockingIOError) past
    8 MiB; sends made meanwhile go behind the queue; once the peer reads, flush() with
    select() empties it; the peer gets every frame exactly once, in order."""
    a, b = transport
    a.setblocking(False)
    fs = framed(impl, a, LP)
    sent = fill_queue(fs, 8 * MiB)
    assert fs.wants_write and fs.pending_output > 8 * MiB
    assert fs.flush() is False  # nobody reads: still queued
    queued = fs.pending_output
    fs.send(b"marker")
    fs.sendall(lp(b"raw"))
    fs.send_many([b"tail", b""])
    assert fs.pending_output == queued + len(lp(b"marker") + lp(b"raw") + lp(b"tail") + lp(b""))
    sent += [b"marker", b"raw", b"tail", b""]
    reader = peer(read_all, b)
    flush_until_done(fs, a)
    end_sending(fs)
    frames = LP.decoder().feed(reader.finish())
    assert len(frames) == len(sent)
    assert frames == sent


def test_nonblocking_send_after_flush_goes_straight_out(impl: Any, pair: Any) -> None:
    """With an empty queue a small non-blocking send goes out at once (nothing queued)."""
    a, b = pair
    a.setblocking(False)
    fs = framed(impl, a, LP)
    fs.send(b"now")
    assert fs.pending_output == 0 and fs.flush() is True
    assert b.recv(100) == lp(b"now")


def test_nonblocking_shutdown_write_with_queue(impl: Any, transport: Any) -> None:
    """shutdown_write() on a non-blocking socket whose queue cannot be flushed:
    BlockingIOError and nothing shut (the queue still goes out later, then EOF)."""
    a, b = transport
    needs_half_close(a)
    a.setblocking(False)
    fs = framed(impl, a, LP)
    sent = fill_queue(fs, 4 * MiB)
    with pytest.raises(BlockingIOError):
        fs.shutdown_write()
    assert fs.wants_write
    reader = peer(read_all, b)
    flush_until_done(fs, a)
    fs.shutdown_write()
    assert LP.decoder().feed(reader.finish()) == sent


def test_nonblocking_detach_with_queue(impl: Any, transport: Any) -> None:
    """detach() with output queued and not flushable: BlockingIOError, still attached;
    after flushing, detach() gives the socket back."""
    a, b = transport
    needs_detach(a)
    a.setblocking(False)
    fs = framed(impl, a, LP)
    sent = fill_queue(fs, 4 * MiB)
    with pytest.raises(BlockingIOError):
        fs.detach()
    assert fs.socket is a and fs.wants_write and fs.fileno() == a.fileno()
    reader = peer(read_all, b)
    flush_until_done(fs, a)
    sock, rest = fs.detach()
    assert sock is a and rest == b""
    sock.shutdown(socket.SHUT_WR)
    assert LP.decoder().feed(reader.finish()) == sent


def test_blocking_flush_and_detach_flush_the_queue(impl: Any, transport: Any) -> None:
    """Queued output (left by a non-blocking send) goes out with a blocking flush(),
    and with detach() in timeout mode."""
    a, b = transport
    needs_detach(a)
    a.setblocking(False)
    fs = framed(impl, a, LP)
    sent = fill_queue(fs, 2 * MiB)
    reader = peer(read_all, b)
    a.settimeout(IO_TIMEOUT)
    sock, rest = fs.detach()
    assert sock is a and rest == b""
    sock.shutdown(socket.SHUT_WR)
    assert LP.decoder().feed(reader.finish()) == sent


# -- half-close request / reply ---------------------------------------------------------------


def test_half_close_request_reply(impl: Any, transport: Any) -> None:
    """Client sends frames then shutdown_write(); the server iterates to the clean EOF,
    replies, closes; the client, still receiving, gets the whole reply."""
    a, b = transport
    needs_half_close(a)
    framer = ff.Netstring()
    requests = [b"alpha", b"", b"gamma" * 1000]

    def server() -> list[bytes]:
        srv = framed(impl, b, framer)
        got = list(srv)
        srv.send_many([b"%d" % len(got)] + got[::-1])
        srv.close()
        return got

    srv = peer(server)
    client = framed(impl, a, framer)
    client.send_many(requests)
    client.shutdown_write()
    assert list(client) == [b"3"] + requests[::-1]
    assert srv.finish() == requests
    with pytest.raises(ConnectionClosed):
        client.recv()
    with pytest.raises(BrokenPipeError):
        client.send(b"too late")


def test_shutdown_write_flushes_first(impl: Any, transport: Any) -> None:
    """In blocking mode shutdown_write() sends the queue, then the EOF."""
    a, b = transport
    needs_half_close(a)
    a.setblocking(False)
    fs = framed(impl, a, LP)
    sent = fill_queue(fs, 1 * MiB)
    a.setblocking(True)
    reader = peer(read_all, b)
    fs.shutdown_write()
    assert fs.pending_output == 0
    assert LP.decoder().feed(reader.finish()) == sent


# -- a peer that is gone ----------------------------------------------------------------------


def test_send_to_a_closed_peer(impl: Any, transport: Any) -> None:
    """Sends to a peer that closed raise BrokenPipeError or ConnectionResetError
    (or, on Windows, possibly ConnectionAbortedError)."""
    a, b = transport
    fs = framed(impl, a, LP)
    b.close()
    with pytest.raises((BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
        for _ in range(1000):
            fs.send(b"x" * 1000)


NO_SIGPIPE_SCRIPT = CHILD_CORE + textwrap.dedent(
    """
    import signal, socket, sys

    import fastframe as ff

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # a C program's default: SIGPIPE kills

    def pairs():
        yield socket.socketpair()
        lst = socket.create_server(("127.0.0.1", 0))
        a = socket.create_connection(lst.getsockname())
        b, _ = lst.accept()
        lst.close()
        yield a, b

    for a, b in pairs():
        fs = core.FramedSocket(a, ff.LengthPrefixed(4))
        b.close()
        for call in (lambda: fs.send(b"x" * 1000), lambda: fs.send_many([b"y"] * 100), lambda: fs.sendall(b"z" * 1000)):
            try:
                for _ in range(1000):
                    call()
            except (BrokenPipeError, ConnectionResetError):
                pass
            else:
                sys.exit("no error from sending to a closed peer")
        fs.close()
    print("ok")
    """
)


@requires_sigpipe
def test_no_sigpipe(impl: Any) -> None:
    """With SIGPIPE at its default action (as in a process embedding Python), sending
    to a closed peer raises BrokenPipeError instead of killing the process."""
    env = dict(os.environ, PYTHONPATH=str(Path(ff.__file__).parents[1]))
    proc = subprocess.run(
        [sys.executable, "-c", NO_SIGPIPE_SCRIPT, impl.module.__name__],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "ok"
