"""The edges of FramedStream and of connect_tcp / connect_unix, on each core and
backend: one receiving and one sending task at a time (anyio.BusyResourceError,
the refused call taking and sending nothing), use after aclose()
(anyio.ClosedResourceError), typed attributes passed through, the framer
argument, receive_many(max_frames), head=, payloads refused without breaking
the stream, and TLS through connect_tcp (a context trusting the test authority;
without one, or for another name, the certificate is refused)."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
from typing import Any

import anyio
import pytest
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSAttribute

import fastframe as ff
from fastframe import _messages
from fastframe import anyio as ffa
from fastframe.errors import FrameTooLarge
from tests.anyio.peers import Transport, memory_stream, over_tcp, server_context
from tests.support import certs
from tests.support.children import child_env
from tests.support.sockets import IO_TIMEOUT, refused_unix_paths
from tests.support.wire import expect, wire_of

pytestmark = pytest.mark.anyio


# -- one receiving and one sending task ------------------------------------------------------------


@over_tcp
async def test_a_second_receiver_is_refused(impl: Any, transport: Transport) -> None:
    """While a task waits in receive(), another's receive, receive_many,
    receive_exactly and receive_until raise BusyResourceError; the first then gets
    its frame."""
    framer = impl.bind(ff.LengthPrefixed(2))
    async with transport.raw(framer) as (stream, peer):
        got: list[bytes] = []
        async with anyio.create_task_group() as tg:

            async def first() -> None:
                got.append(await stream.receive())

            tg.start_soon(first)
            await anyio.sleep(0.01)
            for call in (stream.receive, stream.receive_many, lambda: stream.receive_exactly(1), lambda: stream.receive_until(b"\n")):
                with pytest.raises(anyio.BusyResourceError):
                    await call()
            await peer.send(b"\x00\x03one")
        assert got == [b"one"]


@over_tcp
async def test_a_second_receiver_takes_nothing(impl: Any, transport: Transport) -> None:
    """While a task waits in receive_exactly(10) with 6 bytes held, bytes that are a
    whole frame of the stream's framing, another task's receive() raises
    BusyResourceError: it does not cut that frame out of the raw read's bytes,
    which come out whole."""
    framer = impl.bind(ff.LengthPrefixed(4))
    async with transport.raw(framer) as (stream, peer):
        got: list[bytes] = []
        async with anyio.create_task_group() as tg:

            async def raw() -> None:
                got.append(await stream.receive_exactly(10))

            await peer.send(b"\x00\x00\x00\x02hi")
            tg.start_soon(raw)
            await anyio.sleep(0.01)
            for call in (stream.receive, stream.receive_many):
                with pytest.raises(anyio.BusyResourceError):
                    await call()
            await peer.send(b"abcd")
        assert got == [b"\x00\x00\x00\x02hiabcd"]


async def test_a_second_sender_is_refused_and_sends_nothing(impl: Any, transport: Transport) -> None:
    """While a task's send waits (a 2 MiB frame, a peer not reading yet), another's
    send and send_many raise BusyResourceError and put nothing on the wire: the peer
    gets the big frame, then the frame sent after it, and nothing else."""
    framer = impl.bind(ff.LengthPrefixed(4))
    big = b"b" * (2 * 1024 * 1024)
    async with transport.raw(framer) as (stream, peer):
        stream.extra(SocketAttribute.raw_socket).setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.send, big)
            await anyio.sleep(0.05)
            with pytest.raises(anyio.BusyResourceError):
                await stream.send(b"refused")
            with pytest.raises(anyio.BusyResourceError):
                await stream.send_many([b"refused", b"too"])
            expected = wire_of(framer, [big])[0]
            assert await peer.receive_exactly(len(expected)) == expected
        await stream.send(b"after")
        async with anyio.create_task_group() as tg:
            await transport.stop_sending(stream, tg)
            assert await peer.read_all() == wire_of(framer, [b"after"])[0]


# -- closing ------------------------------------------------------------------------------------------


async def test_use_after_aclose(impl: Any, transport: Transport) -> None:
    """After aclose() (twice is fine), every call raises anyio.ClosedResourceError,
    as anyio's own streams do; so does a receive that was waiting in another task
    when the stream was closed.  (Over TLS, aclose() raises BusyResourceError:
    anyio's TLSStream.aclose() reads the other's close_notify, which it cannot
    while another task receives; the stream is closed all the same, and
    docs/anyio.md says so.  aclose_forcefully() closes it without a word.)"""
    async with transport.framed(impl.bind(ff.Lines())) as (stream, theirs):
        outcome: list[BaseException] = []
        async with anyio.create_task_group() as tg:

            async def wait() -> None:
                try:
                    await stream.receive()
                except anyio.ClosedResourceError as exc:
                    outcome.append(exc)

            tg.start_soon(wait)
            await anyio.sleep(0.01)
            if transport.tls:
                with pytest.raises(anyio.BusyResourceError):
                    await stream.aclose()
            else:
                await stream.aclose()
        assert len(outcome) == 1
        await stream.aclose()
        calls = {
            "receive": stream.receive,
            "receive_many": stream.receive_many,
            "receive_exactly": lambda: stream.receive_exactly(1),
            "receive_until": lambda: stream.receive_until(b"\n"),
            "receive_until_eof": stream.receive_until_eof,
            "send": lambda: stream.send(b"x"),
            "send_many": lambda: stream.send_many([b"x"]),
            "send_eof": stream.send_eof,
            "async for": stream.__anext__,
        }
        for name, call in calls.items():
            with pytest.raises(anyio.ClosedResourceError):
                await call()
                raise AssertionError(f"{name} did not raise")


# -- what the stream passes through ---------------------------------------------------------------


async def test_typed_attributes_pass_through(impl: Any, transport: Transport) -> None:
    """stream.extra() is the byte stream's: the addresses of both ends (a Unix
    socket's path), the raw socket, and over TLS the session's (its version, the
    peer's certificate, which side); an attribute the stream lacks is
    TypedAttributeLookupError unless a default is given."""
    async with transport.framed(impl.bind(ff.Lines())) as (client, server):
        assert client.extra(SocketAttribute.remote_address) == server.extra(SocketAttribute.local_address)
        assert client.extra(SocketAttribute.local_address) == server.extra(SocketAttribute.remote_address)
        raw = client.extra(SocketAttribute.raw_socket)
        assert isinstance(raw, socket.socket) or hasattr(raw, "fileno")
        if transport.kind == "unix":
            assert client.extra(SocketAttribute.remote_address).endswith("/s")
        else:
            assert client.extra(SocketAttribute.remote_address)[0] == "127.0.0.1"
        if transport.tls:
            assert client.extra(TLSAttribute.tls_version).startswith("TLSv1.")
            assert client.extra(TLSAttribute.server_side) is False
            assert server.extra(TLSAttribute.server_side) is True
            assert ("DNS", certs.SERVER_NAME) in client.extra(TLSAttribute.peer_certificate)["subjectAltName"]
        else:
            assert client.extra(TLSAttribute.tls_version, None) is None
            with pytest.raises(anyio.TypedAttributeLookupError):
                client.extra(TLSAttribute.tls_version)


# -- arguments --------------------------------------------------------------------------------------


def refused_port() -> int:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    port: int = lst.getsockname()[1]
    lst.close()
    return port


async def test_framer_required(impl: Any, anyio_backend: Any) -> None:
    """framer=None, or anything that is not a framer (a decoder, a name, a framer
    class), is a TypeError from FramedStream() and from connect_tcp and
    connect_unix before they connect (a refused port, a missing path, would say
    otherwise)."""
    directory = tempfile.mkdtemp(prefix="ffn")
    port, path = refused_port(), os.path.join(directory, "s")
    byte_stream, _ = memory_stream()
    try:
        with anyio.fail_after(IO_TIMEOUT):
            for bad in (None, impl.bind(ff.Lines()).decoder(), "lines", ff.Lines):
                with pytest.raises(TypeError):
                    ffa.FramedStream(byte_stream, bad)
                with pytest.raises(TypeError):
                    await ffa.connect_tcp("127.0.0.1", port, bad)
                with pytest.raises(TypeError):
                    await ffa.connect_unix(path, bad)
            with pytest.raises(OSError):  # (and with a framer, they do connect)
                await ffa.connect_tcp("127.0.0.1", port, ff.Lines())
            with pytest.raises(OSError):
                await ffa.connect_unix(path, ff.Lines())
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")
async def test_connect_unix_says_what_is_missing(anyio_backend: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No socket at the path: FileNotFoundError names it (anyio's backends name
    none); a path that reads as HOST:PORT was meant for connect_tcp."""
    monkeypatch.chdir(tmp_path)
    with anyio.fail_after(IO_TIMEOUT):
        await refused_unix_paths(
            lambda path: ffa.connect_unix(path, ff.Lines()), tmp_path, "connect_tcp('127.0.0.1', 1, framer)"
        )


@over_tcp
async def test_receive_many_max_frames(impl: Any, transport: Transport) -> None:
    """receive_many(max_frames=n) returns at most n of the frames held, in order;
    below 1 is a ValueError, a non-integer a TypeError (at once, with no frame
    waiting)."""
    framer = impl.bind(ff.LengthPrefixed(1))
    items = [b"%d" % i for i in range(10)]
    async with transport.raw(framer) as (stream, peer):
        await peer.send(wire_of(framer, items)[0])
        assert await stream.receive_many(max_frames=3) == items[0:3]
        assert await stream.receive_many(3) == items[3:6]
        assert await stream.receive_many(max_frames=1) == items[6:7]
        assert await stream.receive_many(max_frames=100) == items[7:]
        for bad in (0, -1):
            with pytest.raises(ValueError):
                await stream.receive_many(max_frames=bad)
        with pytest.raises(TypeError):
            await stream.receive_many(max_frames=1.0)  # type: ignore[arg-type]
        await peer.send(wire_of(framer, [b"x", b"y"])[0])
        got: list[bytes] = []
        while len(got) < 2:
            got += await stream.receive_many(max_frames=None)
        assert got == [b"x", b"y"]


@over_tcp
async def test_send_with_head(impl: Any, transport: Transport) -> None:
    """LengthPrefixed(4, offset=1): send(head=b"Q") and send_many(head=...) put the
    head before the length field (docs/framers/length-prefixed.md); a head of the
    wrong size is a ValueError, and head= with another framing a TypeError: nothing
    is sent, the stream goes on."""
    framer = impl.bind(ff.LengthPrefixed(4, offset=1, adjustment=0))
    expected = expect(framer, b"select 1", b"Q").wire + expect(framer, b"a", b"P").wire + expect(framer, b"", b"P").wire
    assert expected.startswith(b"Q\x00\x00\x00\x08select 1")
    async with transport.raw(framer) as (stream, peer):
        await peer.send(expected)
        assert [await stream.receive() for _ in range(3)] == [b"select 1", b"a", b""]
        await stream.send(b"select 1", head=b"Q")
        await stream.send_many([b"a", b""], head=b"P")
        for bad in (b"", b"QQ"):
            with pytest.raises(ValueError):
                await stream.send(b"x", head=bad)
            with pytest.raises(ValueError):
                await stream.send_many([b"x"], head=bad)
        stream.framer = impl.bind(ff.Lines())
        with pytest.raises(TypeError):
            await stream.send(b"x", head=b"Q")
        with pytest.raises(TypeError):
            await stream.send_many([b"x"], head=b"Q")
        await stream.send(b"line")
        assert await peer.receive_exactly(len(expected) + 5) == expected + b"line\n"


@over_tcp
async def test_refused_payloads_send_nothing(impl: Any, transport: Transport) -> None:
    """A payload the framer refuses (a line holding the delimiter, a body over
    max_size) raises, sends nothing, and leaves the stream whole: the next frames
    go out intact."""
    async with transport.raw(impl.bind(ff.Lines(max_size=4))) as (stream, peer):
        with pytest.raises(ValueError):
            await stream.send(b"two\nlines")
        with pytest.raises(ValueError):
            await stream.send_many([b"fine", b"not\nfine"])
        with pytest.raises(FrameTooLarge):
            await stream.send(b"12345")
        await stream.send(b"ok")
        await stream.send_many([b"1234", b""])
        assert await peer.receive_exactly(9) == b"ok\n1234\n\n"


@over_tcp
async def test_what_is_not_bytes_like_is_refused_in_the_cores_words(impl: Any, transport: Transport) -> None:
    """send and send_many refuse a str (or another object without the buffer
    protocol) as FramedSocket does, saying what they got and what to do, and send
    nothing."""
    async with transport.raw(impl.bind(ff.Lines())) as (stream, peer):
        for call in (stream.send, lambda payload: stream.send_many([b"ok", payload])):
            for refused in ("text", 5):
                with pytest.raises(TypeError) as info:
                    await call(refused)
                assert str(info.value) == str(_messages.not_bytes_like(refused))
                assert f"got {type(refused).__name__}: " in str(info.value)
        await stream.send(b"ok")
        assert await peer.receive_exactly(3) == b"ok\n"


# -- TLS through connect_tcp ---------------------------------------------------------------------------


async def tls_server(framer: Any, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    """A TLS server on 127.0.0.1 echoing one connection's frames (reported port first)."""
    multi = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with multi:
        listener = multi.listeners[0]
        task_status.started(listener.extra(SocketAttribute.local_port))
        sock = await listener.accept()
        try:
            tls = await anyio.streams.tls.TLSStream.wrap(sock, server_side=True, ssl_context=server_context())
        except (ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream):
            await sock.aclose()
            return
        async with ffa.FramedStream(tls, framer) as stream:
            async for frame in stream:
                await stream.send(b"re:" + frame)


@pytest.mark.parametrize("hostname", [None, certs.SERVER_NAME])
async def test_connect_tcp_tls(impl: Any, anyio_backend: Any, hostname: str | None) -> None:
    """connect_tcp(tls=True, ssl_context=a context trusting the test authority)
    shakes hands (the certificate checked for 127.0.0.1, or for tls_hostname) and
    frames over TLS."""
    framer = impl.bind(ff.Netstring())
    with anyio.fail_after(IO_TIMEOUT):
        async with anyio.create_task_group() as tg:
            port = await tg.start(tls_server, framer)
            stream = await ffa.connect_tcp("127.0.0.1", port, framer, tls=True, ssl_context=certs.client_context(), tls_hostname=hostname)
            async with stream:
                assert stream.extra(TLSAttribute.tls_version).startswith("TLSv1.")
                await stream.send_many([b"one", b"two"])
                assert [await stream.receive(), await stream.receive()] == [b"re:one", b"re:two"]


@pytest.mark.parametrize("case", ["default context", "another name"])
async def test_connect_tcp_tls_checks_the_certificate(impl: Any, anyio_backend: Any, case: str) -> None:
    """tls=True without a context uses the default one, which does not trust the
    test authority; a trusting context with another tls_hostname: either way the
    handshake fails with ssl.SSLCertVerificationError, and no stream is made."""
    framer = impl.bind(ff.Lines())
    kwargs: dict[str, Any] = {"tls": True}
    if case == "another name":
        kwargs.update(ssl_context=certs.client_context(), tls_hostname="example.com")
    with anyio.fail_after(IO_TIMEOUT):
        async with anyio.create_task_group() as tg:
            port = await tg.start(tls_server, framer)
            with pytest.raises(ssl.SSLCertVerificationError):
                await ffa.connect_tcp("127.0.0.1", port, framer, **kwargs)


def test_without_anyio_the_import_says_what_to_install() -> None:
    """fastframe.anyio where anyio cannot be imported: an ImportError that names
    the extra to install (in a child, whose anyio is blocked)."""
    code = (
        "import sys; sys.modules['anyio'] = None\n"
        "try:\n"
        "    import fastframe.anyio\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'pip install "fastframe[anyio]"' in done.stdout, done.stdout
