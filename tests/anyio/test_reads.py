"""Raw reads and framer switches on one buffer, on each core and backend, over
TCP and TLS (whose records cut the conversations elsewhere), as FramedSocket
does them: a one-byte answer (receive_exactly) then
frames of another framing, an HTTP/1-like header block (receive_until) then
LengthPrefixed frames then the rest (receive_until_eof), type bytes between
frames, a switch that takes effect from the next frame not yet returned (also
for frames already received, and for sending), and the raw reads' limits and
ends (FrameTooLarge, IncompleteFrame, EndOfStream).  Each conversation arrives
in one write (the raw bytes and the frames in the same read) and in 7-byte
writes (its start)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import fastframe as ff
from fastframe.errors import FrameTooLarge, IncompleteFrame
from tests.anyio.peers import RawPeer, Transport, over_tcp_and_tls
from tests.support.calls import split
from tests.support.wire import wire_of

pytestmark = pytest.mark.anyio

SPLITS = ["one write", "7-byte writes"]

STARTUP = ff.LengthPrefixed(4, adjustment=-4)  # PostgreSQL's StartupMessage and SSLRequest: the length counts itself
MESSAGES = ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0)  # tag + length + body


async def deliver(peer: RawPeer, data: bytes, how: str) -> None:
    """``data`` in one write, or its first 300 bytes in 7-byte writes (across every
    switch of the conversations here) and the rest in one."""
    if how == "one write":
        await peer.send(data)
    else:
        await peer.send_chunks([*split(data[:300], range(7, 300, 7)), data[300:]])


async def send_and_end(peer: RawPeer, data: bytes, how: str = "one write") -> None:
    """deliver(), then the end of the stream: in a task, while the test reads (the
    data may be more than the socket's buffers take)."""
    await deliver(peer, data, how)
    await peer.send_eof()


@over_tcp_and_tls
@pytest.mark.parametrize("how", SPLITS)
async def test_one_byte_answer_then_frames(impl: Any, transport: Transport, how: str) -> None:
    """A PostgreSQL-like start: the client sends an SSLRequest (STARTUP framing),
    reads the one-byte answer with receive_exactly(1), switches to MESSAGES and
    reads the server's messages, which came in the same write as the byte; what
    it sends after the switch is framed with MESSAGES (the head is the tag)."""
    startup, messages = impl.bind(STARTUP), impl.bind(MESSAGES)
    reply = [(b"R", b"\x00\x00\x00\x00"), (b"S", b"client_encoding\x00UTF8\x00"), (b"Z", b"I")]
    reply_wire = b"".join(tag + (len(body) + 4).to_bytes(4, "big") + body for tag, body in reply)
    async with transport.raw(startup) as (stream, peer):
        await stream.send(b"\x04\xd2\x16\x2f")  # SSLRequest: 80877103
        assert await peer.receive_exactly(8) == b"\x00\x00\x00\x08\x04\xd2\x16\x2f"
        await deliver(peer, b"N" + reply_wire, how)
        assert await stream.receive_exactly(1) == b"N"
        stream.framer = messages
        assert stream.framer is messages
        got = [await stream.receive() for _ in reply]
        assert got == [tag + (len(body) + 4).to_bytes(4, "big") + body for tag, body in reply]
        await stream.send(b"select 1\x00", head=b"Q")
        assert await peer.receive_exactly(14) == b"Q\x00\x00\x00\x0dselect 1\x00"


@over_tcp_and_tls
@pytest.mark.parametrize("how", SPLITS)
async def test_header_block_then_length_prefixed_body(impl: Any, transport: Transport, how: str) -> None:
    """An HTTP/1-like header block read with receive_until(b"\\r\\n\\r\\n"), then
    LengthPrefixed(4) frames (a switch after a raw read), then Lines, then the
    rest with receive_until_eof: one buffer, nothing lost or read twice."""
    lp = impl.bind(ff.LengthPrefixed(4))
    bodies = [b"first", b"", bytes(range(256)) * 40, b"last"]
    head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: frames\r\nConnection: Upgrade"
    data = head + b"\r\n\r\n" + wire_of(lp, bodies)[0] + b"line one\r\nline two\n" + b"rest\x00" * 3
    async with transport.raw(impl.bind(ff.Lines())) as (stream, peer), anyio.create_task_group() as tg:
        tg.start_soon(send_and_end, peer, data, how)
        assert await stream.receive_until(b"\r\n\r\n") == head
        stream.framer = lp
        assert [await stream.receive() for _ in bodies] == bodies
        stream.framer = impl.bind(ff.Lines())
        assert await stream.receive() == b"line one"
        assert await stream.receive_until(b"\n", keep=True) == b"line two\n"
        assert await stream.receive_until_eof() == b"rest\x00" * 3
        assert await stream.receive_until_eof() == b""
        with pytest.raises(anyio.EndOfStream):
            await stream.receive()


@over_tcp_and_tls
@pytest.mark.parametrize("how", SPLITS)
async def test_type_byte_then_frame(impl: Any, transport: Transport, how: str) -> None:
    """receive_exactly(1) reads a type byte, receive() the frame after it,
    alternately (a 100 000-byte frame among them); at the end receive_exactly
    raises EndOfStream."""
    messages = [(b"A", b"first"), (b"B", b""), (b"C", b"x" * 100_000), (b"D", b"last")]
    data = b"".join(t + len(m).to_bytes(4, "big") + m for t, m in messages)
    async with transport.raw(impl.bind(ff.LengthPrefixed(4))) as (stream, peer), anyio.create_task_group() as tg:
        tg.start_soon(send_and_end, peer, data, how)
        assert [(await stream.receive_exactly(1), await stream.receive()) for _ in messages] == messages
        with pytest.raises(anyio.EndOfStream):
            await stream.receive_exactly(1)


@over_tcp_and_tls
async def test_switch_takes_effect_from_the_next_frame(impl: Any, transport: Transport) -> None:
    """Lines, then a switch to LengthPrefixed(4): frames of the new framing that
    arrived in the same read as the lines are cut with it; after receive_many only
    the unfinished frame is held, and the next framing cuts it from its first
    byte; frames sent after a switch are the new framing's (the exact wire)."""
    lines, lp4, lp2 = impl.bind(ff.Lines()), impl.bind(ff.LengthPrefixed(4)), impl.bind(ff.LengthPrefixed(2))
    async with transport.raw(lines) as (stream, peer):
        await peer.send(b"HELLO 1\r\nmode: binary\n\n" + wire_of(lp4, [b"one", b"", b"\n\n3"])[0])
        assert [await stream.receive() for _ in range(3)] == [b"HELLO 1", b"mode: binary", b""]
        stream.framer = lp4
        assert [await stream.receive() for _ in range(3)] == [b"one", b"", b"\n\n3"]
        stream.framer = lines
        await peer.send(b"a\nb\nc\n\x00\x02")
        got: list[bytes] = []
        while len(got) < 3:
            got += await stream.receive_many()
        assert got == [b"a", b"b", b"c"]
        assert stream.buffered == 2
        stream.framer = lp2
        await peer.send(b"xy\x00\x00")
        assert [await stream.receive(), await stream.receive()] == [b"xy", b""]
        await stream.send(b"two")
        stream.framer = lines
        await stream.send_many([b"three", b"four"])
        assert await peer.receive_exactly(16) == b"\x00\x03two" + b"three\nfour\n"


@over_tcp_and_tls
async def test_raw_read_limits_and_ends(impl: Any, transport: Transport) -> None:
    """receive_until: a run longer than max_size is FrameTooLarge(max_size + 1,
    max_size), skipped up to its delimiter; receive_until_eof likewise, the rest
    skipped to the end; receive_exactly and receive_until cut short by the end:
    IncompleteFrame (partial, n or None), the bytes still there; receive_exactly(0)
    is b""; bad arguments are refused before anything is read."""
    data = b"short\r\n" + b"y" * 100 + b"\r" + b"z" * 50 + b"\r\nafter\r\n12345678\r\n" + b"x" * 300_000
    async with transport.raw(impl.bind(ff.Lines())) as (stream, peer), anyio.create_task_group() as tg:
        tg.start_soon(send_and_end, peer, data)  # (more than a Unix socket's buffers take)
        assert await stream.receive_until(b"\r\n", max_size=8) == b"short"
        with pytest.raises(FrameTooLarge) as info:
            await stream.receive_until(b"\r\n", max_size=8)
        assert info.value.args == (9, 8)
        assert await stream.receive_until(b"\r\n", max_size=8) == b"after"
        assert await stream.receive_exactly(0) == b""
        for bad in (lambda: stream.receive_exactly(-1), lambda: stream.receive_until(b"")):
            with pytest.raises(ValueError):
                await bad()
        assert await stream.receive_until(b"\r\n", keep=True, max_size=10) == b"12345678\r\n"
        with pytest.raises(FrameTooLarge) as info:
            await stream.receive_until_eof(max_size=1000)
        assert info.value.args == (1001, 1000)
        assert await stream.receive_until_eof() == b""
    async with transport.raw(impl.bind(ff.Lines())) as (stream, peer):
        await peer.send(b"abcdefg")
        await peer.send_eof()
        with pytest.raises(IncompleteFrame) as short:
            await stream.receive_exactly(10)
        assert short.value.args == (b"abcdefg", 10)
        with pytest.raises(IncompleteFrame) as short:
            await stream.receive_until(b"\r\n")
        assert short.value.args == (b"abcdefg", None)
        assert await stream.receive_exactly(3) == b"abc"
        assert await stream.receive_until_eof() == b"defg"
        with pytest.raises(anyio.EndOfStream):
            await stream.receive_exactly(1)
