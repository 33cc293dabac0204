"""The end of a stream, on each core, backend and transport: a clean end between
frames is anyio.EndOfStream (again and again; ``async for`` ends), also for a
receive already waiting; inside a frame IncompleteFrame with every byte of it,
raised again by every later call while the raw reads still get those bytes;
half-close (the side whose peer ended can still reply; TLS cannot half-close
with anyio); a peer reset (every whole frame, then BrokenResourceError); and
over TLS a bare FIN, a truncation, which is BrokenResourceError, never a clean
end."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import fastframe as ff
from fastframe.errors import IncompleteFrame
from tests.aio.frames import CUT
from tests.anyio.frames import HOW, drain, one
from tests.anyio.peers import Transport
from tests.support.wire import wire_of

pytestmark = pytest.mark.anyio

PLAIN = pytest.mark.parametrize("transport", ["tcp", "unix"], indirect=True)


@pytest.mark.parametrize("how", HOW)
async def test_clean_eof(impl: Any, transport: Transport, how: str) -> None:
    """The end between frames: every frame, then EndOfStream from receive and
    receive_many, again and again; ``async for`` ends (and yields nothing more);
    the raw reads see the end too (receive_until_eof: b"")."""
    async with transport.raw(impl.bind(ff.LengthPrefixed(4))) as (stream, peer):
        await peer.send(b"\x00\x00\x00\x02hi\x00\x00\x00\x00")
        await peer.send_eof()
        assert await drain(stream, how) == [b"hi", b""]
        for call in (stream.receive, stream.receive_many, stream.receive, lambda: stream.receive_exactly(1)):
            with pytest.raises(anyio.EndOfStream):
                await call()
        assert [frame async for frame in stream] == []
        assert await stream.receive_until_eof() == b""


async def test_eof_wakes_a_waiting_receive(impl: Any, transport: Transport) -> None:
    """A receive (receive_many, receive_exactly) waiting when the peer ends its side
    without sending raises EndOfStream."""

    async def wait(call: Any, outcome: list[BaseException]) -> None:
        try:
            await call()
        except anyio.EndOfStream as exc:
            outcome.append(exc)

    for name in ("receive", "receive_many", "receive_exactly"):
        async with transport.raw(impl.bind(ff.Lines())) as (stream, peer):
            call = (lambda s=stream: s.receive_exactly(3)) if name == "receive_exactly" else getattr(stream, name)
            outcome: list[BaseException] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait, call, outcome)
                await anyio.sleep(0.01)
                assert not outcome
                await peer.send_eof()
            assert len(outcome) == 1, name


@pytest.mark.parametrize(("framer", "stream", "frames", "cut"), CUT, ids=[repr(c[1][:12]) for c in CUT])
async def test_eof_inside_a_frame(impl: Any, transport: Transport, framer: Any, stream: bytes, frames: list, cut: tuple) -> None:
    """The end inside a header or a body, read each way: every whole frame, then
    IncompleteFrame with exactly the unfinished frame's bytes (header included) and
    its wire size when known; ``async for`` raises it (it does not just end); every
    later call raises it again; the bytes stay for the raw reads
    (receive_until_eof), then the end is clean."""
    framer = impl.bind(framer)
    for how in HOW:
        async with transport.raw(framer) as (ours, peer):
            await peer.send(stream)
            await peer.send_eof()
            got: list[bytes] = []
            with pytest.raises(IncompleteFrame) as info:
                if how == "iter":
                    async for frame in ours:
                        got.append(frame)
                else:
                    while True:
                        got += await one(ours, how)
            assert got == frames, how
            assert type(info.value.partial) is bytes
            assert (info.value.partial, info.value.expected) == cut
            assert ours.buffered == len(cut[0])
            for call in (ours.receive, ours.receive_many, ours.receive):
                with pytest.raises(IncompleteFrame) as again:
                    await call()
                assert again.value.args == cut
            assert await ours.receive_until_eof() == cut[0]
            with pytest.raises(anyio.EndOfStream):
                await ours.receive()


@PLAIN
@pytest.mark.parametrize("how", HOW)
async def test_half_close(impl: Any, transport: Transport, how: str) -> None:
    """One side sends its requests and send_eof(); the other reads until the clean
    end, then replies on its still open side, and ends it; the first reads every
    reply, then the end.  (Not over TLS: anyio's TLSStream cannot half-close,
    test_send_eof_over_tls.)"""
    framer = impl.bind(ff.Netstring())
    requests = [b"req %d" % i for i in range(50)]
    async with transport.framed(framer) as (client, server):
        await client.send_many(requests)
        await client.send_eof()
        got = await drain(server, how)
        assert got == requests
        with pytest.raises(anyio.EndOfStream):
            await server.receive()
        await server.send_many([b"n=%d" % len(got), *got[::-1]])
        await server.send_eof()
        assert await drain(client, how) == [b"n=50", *requests[::-1]]


async def test_send_eof_over_tls(impl: Any, anyio_backend: Any) -> None:
    """Over TLS, send_eof() raises NotImplementedError (anyio's TLSStream cannot
    half-close) and changes nothing: frames go on both ways."""
    framer = impl.bind(ff.Lines())
    async with Transport("tls").framed(framer) as (ours, theirs):
        with pytest.raises(NotImplementedError):
            await ours.send_eof()
        await ours.send(b"still open")
        assert await theirs.receive() == b"still open"
        await theirs.send(b"both ways")
        assert await ours.receive() == b"both ways"


@pytest.mark.parametrize("transport", ["tcp", "tls"], indirect=True)
@pytest.mark.parametrize("how", HOW)
async def test_peer_reset(impl: Any, transport: Transport, how: str) -> None:
    """The peer sends frames and part of one, then resets (TCP RST): every whole
    frame, then BrokenResourceError (from the ConnectionResetError); sending
    raises BrokenResourceError too."""
    framer = impl.bind(ff.LengthPrefixed(2))
    wire, frames = wire_of(framer, [b"one", b"", b"three"])
    async with transport.raw(framer) as (stream, peer):
        await peer.send(wire + b"\x00\x09par")
        await peer.reset()
        got: list[bytes] = []
        with pytest.raises(anyio.BrokenResourceError) as info:
            if how == "iter":
                async for frame in stream:
                    got.append(frame)
            else:
                while True:
                    got += await one(stream, how)
        assert got == frames
        assert isinstance(info.value.__cause__, ConnectionResetError), repr(info.value.__cause__)
        with pytest.raises(anyio.BrokenResourceError):
            for _ in range(100):  # (a first write may still be taken by the kernel)
                await stream.send(b"x")
                await anyio.sleep(0.001)
        # later sends say what broke the stream: a failure, not a cancellation
        with pytest.raises(anyio.BrokenResourceError, match=r"an earlier send on this stream failed \(Broken") as later:
            await stream.send(b"x")
        assert "cancelled" not in str(later.value) and "close it" in str(later.value)


@pytest.mark.parametrize("inside", [False, True], ids=["between frames", "inside a frame"])
async def test_tls_bare_fin_is_a_truncation(impl: Any, anyio_backend: Any, inside: bool) -> None:
    """Over TLS the end of the stream is close_notify: a bare FIN (no close_notify),
    between frames or inside one, is BrokenResourceError after every whole frame
    (anyio's TLSStream, standard compatible), never a clean end nor
    IncompleteFrame: whoever cut the connection may have cut the stream."""
    framer = impl.bind(ff.Lines())
    async with Transport("tls").raw(framer) as (stream, peer):
        await peer.send(b"one\ntwo\n" + (b"thr" if inside else b""))
        await peer.fin()
        assert [await stream.receive(), await stream.receive()] == [b"one", b"two"]
        with pytest.raises(anyio.BrokenResourceError):
            await stream.receive()
