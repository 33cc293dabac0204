"""The lifecycle cases: a new connection each iteration, its end the case (EOF,
errors at EOF, shutdown and close), and ``fastframe.connect()`` made and refused."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from fastframe._cores import Core

from .measuring import Case, Probe, Step
from .sockets import path_suffix
from .steps import closing_all, equal, plain, raises


def lifecycle_cases(ff: ModuleType, core: Core) -> Iterator[Case]:
    """A new connection each iteration: its end (EOF, errors at EOF, close) is the case."""
    framer = core.bind(ff.LengthPrefixed(4))
    payload = b"hello world"
    wire = framer.encode(payload)
    name = f"lifecycle{path_suffix(core)}"

    def with_pair(run: Callable[[Any, socket.socket], None]) -> Step:
        def step() -> None:
            a, b = socket.socketpair()
            with closing_all(a, b):
                fs = core.framed_socket(a, framer)
                run(fs, b)
                fs.close()

        return step

    def connection_closed(fs: Any, b: socket.socket) -> None:
        b.close()
        raises(ff.ConnectionClosed, fs.recv)
        raises(ff.ConnectionClosed, fs.recv_many)
        raises(ff.ConnectionClosed, fs.recv_exactly, 1)

    def incomplete(fs: Any, b: socket.socket) -> None:
        b.sendall(wire + wire[:-1])
        b.close()
        equal(fs.recv(), payload)
        raises(ff.IncompleteFrame, fs.recv)

    def iterate_to_eof(fs: Any, b: socket.socket) -> None:
        b.sendall(wire * 3)
        b.close()
        equal(list(fs), [payload] * 3)

    def until_eof(fs: Any, b: socket.socket) -> None:
        b.sendall(wire)
        b.shutdown(socket.SHUT_WR)
        equal(fs.recv_until_eof(), wire)

    def until_eof_too_large(fs: Any, b: socket.socket) -> None:
        b.sendall(wire)
        b.close()
        raises(ff.FrameTooLarge, fs.recv_until_eof, max_size=4)

    def shutdown_close(fs: Any, b: socket.socket) -> None:
        fs.send(payload)
        fs.shutdown_write()
        equal(b.recv(100), wire)
        equal(b.recv(100), b"")
        with fs:
            pass
        fs.close()

    for label, run in [
        ("connection-closed", connection_closed),
        ("incomplete-frame", incomplete),
        ("iterate-to-eof", iterate_to_eof),
        ("recv_until_eof", until_eof),
        ("recv_until_eof-too-large", until_eof_too_large),
        ("shutdown-close", shutdown_close),
    ]:
        step = with_pair(run)
        yield Case(f"{name}/{label}", "lifecycle", lambda step=step: plain(step, framer=framer, payload=payload))
    if core.fd_path:  # ff.connect makes the default FramedSocket (the core's own)
        yield Case(f"{name}/connect", "lifecycle", lambda: connecting(ff, framer))
        yield Case(f"{name}/connect-refused", "lifecycle", lambda: refused(ff, framer))


@contextlib.contextmanager
def connecting(ff: ModuleType, framer: Any) -> Iterator[Probe]:
    server = socket.create_server(("127.0.0.1", 0))
    address = server.getsockname()
    with closing_all(server):

        def step() -> None:
            fs = ff.connect(address, framer, timeout=30)
            conn, _ = server.accept()
            fs.send(b"hi")
            equal(conn.recv(100), b"\x00\x00\x00\x02hi")
            conn.close()
            fs.close()

        yield Probe(step, {"framer": framer, "server": server})


@contextlib.contextmanager
def refused(ff: ModuleType, framer: Any) -> Iterator[Probe]:
    # bound, not listening: the port stays ours, and connecting to it is refused
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    address = holder.getsockname()
    missing = f"/nonexistent-{os.getpid()}/socket"
    with closing_all(holder):

        def step() -> None:
            raises(ConnectionRefusedError, ff.connect, address, framer, timeout=30)
            raises(FileNotFoundError, ff.connect, missing, framer)

        yield Probe(step, {"framer": framer, "holder": holder})
