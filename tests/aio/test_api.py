"""The edges of FramedReader and FramedWriter, on each core and event loop:
recv_many(max_frames), two waiters, the framer argument, head=, payloads refused
without writing anything, abort and close, drain against a slow or resetting peer,
wait_closed() and get_extra_info()."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from typing import Any

import pytest

import fastframe as ff
from fastframe import _messages, aio
from fastframe.errors import ConnectionClosed, FrameTooLarge
from tests.aio.frames import closed_here, drain_frames, one, stop_sending
from tests.aio.peers import KINDS, handled, raw_peer, serving
from tests.aio.running import run
from tests.support.sockets import MiB, refused_unix_paths
from tests.support.wire import expect, wire_of

# -- API edges ----------------------------------------------------------------------------------------------------------


def test_recv_many_max_frames(impl: Any, loop_kind: str, tls: bool) -> None:
    """recv_many(max_frames=n) returns at most n of the frames held, in order;
    max_frames below 1 is a ValueError, a non-integer a TypeError (at once, even
    with no frame waiting)."""
    framer = impl.bind(ff.LengthPrefixed(1))
    items = [b"%d" % i for i in range(10)]

    async def main() -> None:
        async with raw_peer(framer, presend=wire_of(framer, items)[0], tls=tls) as (reader, writer, peer):
            assert await reader.recv_many(max_frames=3) == items[0:3]
            assert await reader.recv_many(3) == items[3:6]
            assert await reader.recv_many(max_frames=1) == items[6:7]
            assert await reader.recv_many(max_frames=100) == items[7:]
            for bad in (0, -1):
                with pytest.raises(ValueError):
                    await reader.recv_many(max_frames=bad)
            with pytest.raises(TypeError):
                await reader.recv_many(max_frames=1.0)  # type: ignore[arg-type]
            await peer.send(wire_of(framer, [b"x", b"y"])[0])
            assert await reader.recv_many(max_frames=None) == [b"x", b"y"]

    run(loop_kind, main)


@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_two_waiters_on_one_reader(impl: Any, loop_kind: str, tls: bool, how: str) -> None:
    """A second task calling recv / recv_many while one waits gets RuntimeError; the
    first still gets the frame, and the reader works on afterwards."""
    framer = impl.bind(ff.Lines())

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            first = asyncio.ensure_future(one(reader, how))
            for _ in range(3):
                await asyncio.sleep(0)
            for call in (reader.recv, reader.recv_many):
                with pytest.raises(RuntimeError):
                    await call()
            assert not first.done()
            await peer.send(b"one\ntwo\n")
            got = await first
            assert got[0] == b"one"
            await peer.send(b"three\n")
            while len(got) < 3:
                got += await reader.recv_many()
            assert got == [b"one", b"two", b"three"]

    run(loop_kind, main)


def test_framer_required(impl: Any, loop_kind: str) -> None:
    """framer=None, or anything that is not a framer, is a TypeError from every
    entry point, before connecting or binding."""
    directory = tempfile.mkdtemp(prefix="ffa")
    path = os.path.join(directory, "s")
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    refused = lst.getsockname()[1]
    lst.close()

    async def main() -> None:
        for bad in (None, impl.bind(ff.Lines()).decoder(), "lines", ff.Lines):
            with pytest.raises(TypeError):
                await aio.open_connection("127.0.0.1", refused, bad)
            with pytest.raises(TypeError):
                await aio.open_unix_connection(path, bad)
            with pytest.raises(TypeError):
                await aio.start_server(lambda r, w: None, "127.0.0.1", 0, bad)
            with pytest.raises(TypeError):
                await aio.start_unix_server(lambda r, w: None, path, bad)
            assert not os.path.exists(path)
        with pytest.raises(TypeError):
            await aio.open_connection("127.0.0.1", refused)

    try:
        run(loop_kind, main)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_missing_framer_says_how_to_give_one(loop_kind: str) -> None:
    """Leaving the framer out (a type error as well: tests/typed/aio_usage.py) is
    a TypeError that shows how to pass one, from every entry point."""

    async def main() -> None:
        with socket.socket() as sock:  # (never connected: the framer is checked first)
            calls = [
                lambda: aio.open_connection("127.0.0.1", 1),
                lambda: aio.open_connection(sock=sock),
                lambda: aio.open_unix_connection("unused"),
                lambda: aio.start_server(lambda r, w: None, "127.0.0.1", 0),
                lambda: aio.start_unix_server(lambda r, w: None, "unused"),
            ]
            for call in calls:
                with pytest.raises(TypeError) as info:
                    await call()
                assert str(info.value) == "a framer is required (framer=fastframe.LengthPrefixed(4), ...)"

    run(loop_kind, main)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")
def test_open_unix_connection_says_what_is_missing(loop_kind: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No socket at the path: FileNotFoundError names it (asyncio's and uvloop's
    name none); a path that reads as HOST:PORT was meant for open_connection."""
    monkeypatch.chdir(tmp_path)

    async def main() -> None:
        await refused_unix_paths(
            lambda path: aio.open_unix_connection(path, ff.Lines()), tmp_path, "open_connection('127.0.0.1', 1, framer)"
        )

    run(loop_kind, main)


def test_send_with_head(impl: Any, loop_kind: str, tls: bool) -> None:
    """LengthPrefixed(4, offset=1, adjustment=0): the reader strips the head the
    peer put before the length field; send(head=b"Q") and send_many(head=...) put it
    there (docs/framers/length-prefixed.md); a head of the wrong size is a
    ValueError and nothing is written."""
    framer = impl.bind(ff.LengthPrefixed(4, offset=1, adjustment=0))
    expected = expect(framer, b"select 1", b"Q").wire + expect(framer, b"a", b"P").wire + expect(framer, b"", b"P").wire
    assert expected.startswith(b"Q\x00\x00\x00\x08select 1")

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            await peer.send(expected)
            assert [await reader.recv() for _ in range(3)] == [b"select 1", b"a", b""]
            writer.send(b"select 1", head=b"Q")
            writer.send_many([b"a", b""], head=b"P")
            for bad in (b"", b"QQ"):
                with pytest.raises(ValueError):
                    writer.send(b"x", head=bad)
                with pytest.raises(ValueError):
                    writer.send_many([b"x"], head=bad)
            stop_sending(writer)
            assert await peer.read_all() == expected

    run(loop_kind, main)


@pytest.mark.parametrize("framer", [ff.Lines(), ff.Netstring(), ff.FixedSize(1), ff.VarintPrefixed(), ff.Delimited(b"|")], ids=repr)
def test_head_needs_length_prefixed(impl: Any, loop_kind: str, tls: bool, framer: Any) -> None:
    """head= on a framer other than LengthPrefixed is a TypeError (send and
    send_many); nothing is written and the writer goes on."""
    framer = impl.bind(framer)

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            with pytest.raises(TypeError):
                writer.send(b"x", head=b"Q")
            with pytest.raises(TypeError):
                writer.send_many([b"x"], head=b"Q")
            writer.send(b"y")
            stop_sending(writer)
            assert await peer.read_all() == expect(framer, b"y").wire

    run(loop_kind, main)


def test_bad_payload_writes_nothing(impl: Any, loop_kind: str, tls: bool) -> None:
    """A payload the framer refuses (a line containing its delimiter, a body over
    max_size) raises and writes nothing; the next frames go out intact."""
    lines = impl.bind(ff.Lines())

    async def main() -> None:
        async with raw_peer(lines, tls=tls) as (reader, writer, peer):
            with pytest.raises(ValueError):
                writer.send(b"two\nlines")
            with pytest.raises(ValueError):
                writer.send_many([b"fine", b"not\nfine"])
            writer.send(b"ok")
            stop_sending(writer)
            assert await peer.read_all() == b"ok\n"
        small = impl.bind(ff.LengthPrefixed(1, max_size=4))
        async with raw_peer(small, tls=tls) as (reader, writer, peer):
            with pytest.raises(FrameTooLarge):
                writer.send(b"12345")
            writer.send(b"1234")
            stop_sending(writer)
            assert await peer.read_all() == b"\x041234"

    run(loop_kind, main)


def test_what_is_not_bytes_like_is_refused_in_the_cores_words(impl: Any, loop_kind: str, tls: bool) -> None:
    """send, send_many and sendall refuse a str (or another object without the
    buffer protocol) as FramedSocket does: what they got and what to do (sendall
    said "memoryview: a bytes-like object is required"); nothing is written."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.LengthPrefixed(1)), tls=tls) as (reader, writer, peer):
            calls = [writer.send, lambda payload: writer.send_many([b"ok", payload]), writer.sendall]
            for call in calls:
                for refused in ("text", 5):
                    with pytest.raises(TypeError) as info:
                        call(refused)
                    assert str(info.value) == str(_messages.not_bytes_like(refused))
                    assert f"got {type(refused).__name__}: " in str(info.value)
            writer.send(b"ok")
            stop_sending(writer)
            assert await peer.read_all() == b"\x02ok"

    run(loop_kind, main)


def test_abort_drops_buffered_output(impl: Any, loop_kind: str, tls: bool) -> None:
    """writer.abort() closes at once: output the peer has not taken is dropped
    (less than was written arrives), later sends raise RuntimeError, the reader
    says that this side closed the connection."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.LengthPrefixed(4)), tls=tls) as (reader, writer, peer):
            writer.send(b"x" * (8 * MiB))  # more than the socket buffers take at once
            writer.abort()
            assert writer.is_closing()
            with pytest.raises(RuntimeError):
                writer.send(b"y")
            await writer.wait_closed()
            await closed_here(reader.recv)
            got = await peer.read_all()
            assert len(got) < 8 * MiB + 4

    run(loop_kind, main)


def test_send_after_close(impl: Any, loop_kind: str, tls: bool) -> None:
    """Right after writer.close(): send, send_many and sendall raise RuntimeError."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), tls=tls) as (reader, writer, peer):
            writer.send(b"last")
            writer.close()
            assert writer.is_closing()
            for call in (lambda: writer.send(b"x"), lambda: writer.send_many([b"x"]), lambda: writer.sendall(b"x")):
                with pytest.raises(RuntimeError):
                    call()
            assert await peer.read_all() == b"last\n"

    run(loop_kind, main)


def test_send_after_close_and_wait_closed(impl: Any, loop_kind: str, tls: bool) -> None:
    """After writer.close() and wait_closed(), send / send_many / sendall still raise
    RuntimeError ("the writer is closed"): nothing was lost, the writer was closed.
    (The peer reads to the end and closes: a TLS close waits for that.)

    BUG (aio.py, FramedWriter._check_writable): once connection_lost(None) has run
    after a local close, they raise ConnectionResetError("the connection is lost")."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), tls=tls) as (reader, writer, peer):
            writer.close()
            assert await peer.read_all() == b""
            peer.close()
            await writer.wait_closed()
            for call in (lambda: writer.send(b"x"), lambda: writer.send_many([b"x"]), lambda: writer.sendall(b"x")):
                with pytest.raises(RuntimeError):
                    call()

    run(loop_kind, main)


def test_local_close_ends_a_waiting_recv(impl: Any, loop_kind: str, tls: bool) -> None:
    """writer.close() while a recv() waits: it raises (no hang), saying that this
    side closed the connection (it said that the peer had)."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), tls=tls) as (reader, writer, peer):
            waiting = asyncio.ensure_future(reader.recv())
            for _ in range(3):
                await asyncio.sleep(0)
            writer.close()
            await closed_here(lambda: waiting)

    run(loop_kind, main)


def test_drain_with_a_slow_peer(impl: Any, loop_kind: str, tls: bool) -> None:
    """Batches of 3.5 MiB sent to a peer that reads slowly, until the transport's
    buffer goes above its high-water mark (writing paused; how much the kernel
    takes first differs by platform and transport): drain() waits until it is back
    under it, and every byte arrives, in order.  Two tasks draining at once both
    return."""
    framer = impl.bind(ff.LengthPrefixed(4))
    items = [b"%07d" % i * 128 for i in range(4096)]  # 4096 frames of 896 bytes

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            transport = writer.transport
            high = transport.get_write_buffer_limits()[1]
            batches = 0
            while transport.get_write_buffer_size() <= high:
                assert batches < 16, "the kernel took 56 MiB: the transport never buffers"
                writer.send_many(items)
                batches += 1
            reading = asyncio.ensure_future(peer.read_all(pause=0.002))
            await asyncio.gather(writer.drain(), writer.drain())
            assert transport.get_write_buffer_size() <= high
            stop_sending(writer)
            assert await reading == wire_of(framer, items)[0] * batches

    run(loop_kind, main)


def test_drain_waiting_when_the_peer_resets(impl: Any, loop_kind: str, tls: bool) -> None:
    """drain() waiting on a paused transport raises when the peer resets."""
    framer = impl.bind(ff.LengthPrefixed(4))

    async def main() -> None:
        async with raw_peer(framer, kind="tcp", tls=tls) as (reader, writer, peer):
            transport = writer.transport
            high = transport.get_write_buffer_limits()[1]
            batches = 0
            # Over TLS the first write goes down to the socket's transport at once;
            # the TLS transport's own buffer (what drain() waits on) fills after it.
            while transport.get_write_buffer_size() <= high:
                assert batches < 16, "the kernel took 64 MiB: the transport never buffers"
                writer.send_many([b"z" * 1000] * 4 * 1024)  # 4 MiB
                batches += 1
            draining = asyncio.ensure_future(writer.drain())
            for _ in range(3):
                await asyncio.sleep(0)
            assert not draining.done()
            peer.reset()
            with pytest.raises(OSError):  # ConnectionResetError, or EPIPE on some kernels
                await draining
            with pytest.raises(OSError):
                writer.send(b"more")

    run(loop_kind, main)


@pytest.mark.plain_only("it half-closes (write_eof), which TLS cannot with asyncio or uvloop; test_tls_extra_info covers extra info over TLS")
@pytest.mark.parametrize("kind", KINDS)
def test_wait_closed_and_extra_info(impl: Any, loop_kind: str, tls: bool, kind: str) -> None:
    """get_extra_info('peername') names the other end; reader.framer / writer.framer
    are the framer; wait_closed() returns once the connection is closed."""
    framer = impl.bind(ff.Lines())
    server_side: list[Any] = []

    async def body(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        server_side.append((writer.get_extra_info("peername"), writer.get_extra_info("sockname")))
        await drain_frames(reader, "recv")

    async def main() -> None:
        cb, done = handled(body)
        async with serving(kind, cb, framer, tls=tls) as connect:
            reader, writer = await connect()
            assert reader.framer is framer and writer.framer is framer
            assert writer.get_extra_info("no such thing", 42) == 42
            writer.write_eof()
            await done
            peer_name, sock_name = server_side[0]
            if kind == "tcp":
                assert writer.get_extra_info("peername") == sock_name
                assert writer.get_extra_info("sockname") == peer_name
            else:
                assert writer.get_extra_info("peername") == sock_name and sock_name.endswith("/s")
            with pytest.raises(ConnectionClosed):
                await reader.recv()
            assert not writer.is_closing()  # half-closed both ways, still open here
            closed = asyncio.ensure_future(writer.wait_closed())
            await asyncio.sleep(0.01)
            assert not closed.done()
            writer.close()
            await closed
            assert writer.is_closing()
            await writer.wait_closed()  # again: at once

    run(loop_kind, main)
