"""FramedSocket and connect(), as docs/sockets.md and the README use them."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Literal

from typing_extensions import assert_type

import fastframe as ff


def framed_socket(sock: socket.socket) -> None:
    fs = ff.FramedSocket(sock, ff.LengthPrefixed(4))
    assert_type(fs.recv(), bytes)
    assert_type(fs.recv_many(), list[bytes])
    assert_type(fs.recv_many(max_frames=8), list[bytes])
    for frame in fs:
        assert_type(frame, bytes)
    assert_type(fs.recv_exactly(4), bytes)
    assert_type(fs.recv_until(b"\r\n", keep=True), bytes)
    assert_type(fs.recv_until_eof(), bytes)
    fs.send(b"hello")
    fs.send(bytearray(b"hello"), head=b"Q")
    fs.send(memoryview(b"hello"))
    fs.send_many([b"one", b"two"])
    fs.sendall(b"raw")
    assert_type(fs.flush(), bool)
    assert_type(fs.wants_write, bool)
    assert_type(fs.pending_output, int)
    assert_type(fs.buffered, int)
    assert_type(fs.framer, ff.Framer)
    fs.framer = ff.Lines()
    assert_type(fs.socket, socket.socket | None)
    assert_type(fs.tls, ssl.SSLObject | ssl.SSLSocket | None)
    assert_type(fs.fileno(), int)
    assert_type(fs.detach(), tuple[socket.socket, bytes])
    with ff.FramedSocket(sock, ff.Netstring()) as other:
        assert_type(other, ff.FramedSocket)


def wrong_framers(sock: socket.socket) -> None:
    ff.FramedSocket(sock, ff.LengthPrefixed)  # type: ignore[arg-type]
    ff.FramedSocket(sock, "lines")  # type: ignore[arg-type]
    ff.FramedSocket(sock)  # type: ignore[call-arg]
    ff.FramedSocket(sock.fileno(), ff.Lines())  # type: ignore[arg-type]
    fs = ff.FramedSocket(sock, ff.Lines())
    fs.framer = ff.Netstring  # type: ignore[assignment]
    fs.send("text")  # type: ignore[arg-type]
    fs.send_many(["one", "two"])  # type: ignore[list-item]
    fs.send(b"body", head="Q")  # type: ignore[arg-type]
    fs.recv_until("\n")  # type: ignore[arg-type]


def connecting(context: ssl.SSLContext) -> None:
    assert_type(ff.connect(("db.example", 5432), ff.LengthPrefixed(4, offset=1)), ff.FramedSocket)
    assert_type(ff.connect(("127.0.0.1", 9000), ff.Lines(), timeout=5.0), ff.FramedSocket)
    ff.connect(("example.org", 443), ff.Lines(), ssl=context, server_hostname="example.org")
    ff.connect("/run/app.sock", ff.Lines())  # AF_UNIX paths
    ff.connect(b"/run/app.sock", ff.Lines())
    ff.connect(Path("/run/app.sock"), ff.Lines())


def wrong_connects() -> None:
    ff.connect(("127.0.0.1", 9000))  # type: ignore[call-arg]
    ff.connect(("127.0.0.1", 9000), "lines")  # type: ignore[arg-type]
    ff.connect(("127.0.0.1", 9000), ff.Lines)  # type: ignore[arg-type]
    ff.connect(9000, ff.Lines())  # type: ignore[arg-type]
    ff.connect(["127.0.0.1", 9000], ff.Lines())  # type: ignore[arg-type]
    ff.connect(("127.0.0.1", 9000), ff.Lines(), timeout="5")  # type: ignore[arg-type]


def the_package() -> bool:
    assert_type(ff.IMPLEMENTATION, Literal["cython", "python"])
    assert_type(ff.DEFAULT_MAX_SIZE, int)
    assert_type(ff.__version__, str)
    ff.conect(("127.0.0.1", 9000), ff.Lines())  # type: ignore[attr-defined]
    return ff.IMPLEMENTATION == "pypy"  # type: ignore[comparison-overlap]
