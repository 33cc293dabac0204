"""The Socket Programming HOWTO's patterns (examples/recipes/socket_howto.py), on each
core: every exchange directly, then through a relay that passes on one byte at a
time (every read the recipe makes is short), its refusals, and the script itself."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import fastframe as ff
from tests.recipes.conftest import RECIPES, recipe
from tests.support.children import child_env

howto = recipe("socket_howto")
TIMEOUT = 10.0
ANSWERS = {
    "fixed length": b"HELLO",
    "delimited": b"HELLO",
    "5 digits, then the message": b"HELLO",
    "binary length": b"HELLO",
    "type decides the length": (b"T", b"87654321"),
    "type, then a length": (b"m", b"HELLO"),
    "end by shutdown": b"HELLO",
}


def test_every_pattern_is_tested() -> None:
    assert set(ANSWERS) == set(howto.PATTERNS)


def _trickle(source: socket.socket, sink: socket.socket, sent: list[int]) -> None:
    """Pass source's bytes on to sink one at a time, a pause between them, then its EOF."""
    while data := source.recv(65536):
        for i in range(len(data)):
            sink.sendall(data[i : i + 1])
            sent[0] += 1
            time.sleep(0.0005)
    sink.shutdown(socket.SHUT_WR)


@contextmanager
def connected(trickle: bool) -> Iterator[tuple[socket.socket, socket.socket, list[int]]]:
    """Two connected sockets, directly or through a relay in each direction; the
    list counts the bytes the relay passed on one at a time."""
    client, near = socket.socketpair()
    if not trickle:
        yield client, near, [0]
        return
    far, server = socket.socketpair()
    sent = [0]
    relays = [
        threading.Thread(target=_trickle, args=(near, far, sent), daemon=True),
        threading.Thread(target=_trickle, args=(far, near, sent), daemon=True),
    ]
    for relay in relays:
        relay.start()
    try:
        yield client, server, sent
    finally:
        client.close()
        server.close()
        for relay in relays:
            relay.join(TIMEOUT)
        near.close()
        far.close()


def exchange(impl: Any, name: str, trickle: bool) -> tuple[object, int]:
    framer, ask, answer = howto.PATTERNS[name]
    with connected(trickle) as (client_sock, server_sock, sent):
        for sock in (client_sock, server_sock):
            sock.settimeout(TIMEOUT)
        errors: list[BaseException] = []

        def serve() -> None:
            try:
                with impl.FramedSocket(server_sock, framer) as fs:
                    answer(fs)
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)

        server = threading.Thread(target=serve)
        server.start()
        with impl.FramedSocket(client_sock, framer) as fs:
            got = ask(fs)
        server.join(TIMEOUT)
        assert not server.is_alive() and not errors, errors
        return got, sent[0]


@pytest.mark.parametrize("name", list(ANSWERS))
def test_pattern(impl: Any, name: str) -> None:
    assert exchange(impl, name, trickle=False)[0] == ANSWERS[name]


@pytest.mark.parametrize("name", list(ANSWERS))
def test_pattern_byte_by_byte(impl: Any, name: str) -> None:
    got, passed = exchange(impl, name, trickle=True)
    assert got == ANSWERS[name]
    assert passed >= 2 * 5  # the request and the answer, each byte on its own


def fed(impl: Any, framer: ff.Framer, data: bytes) -> Any:
    a, b = socket.socketpair()
    a.sendall(data)
    a.close()
    b.settimeout(TIMEOUT)
    return impl.FramedSocket(b, framer)


def test_counted_refuses_what_is_not_digits(impl: Any) -> None:
    with fed(impl, howto.LINES, b"12a45hello") as fs, pytest.raises(ff.ProtocolError, match="expected 5 digits"):
        howto.recv_counted(fs)


def test_counted_message_cut_short_is_incomplete(impl: Any) -> None:
    with fed(impl, howto.LINES, b"00010hello") as fs, pytest.raises(ff.IncompleteFrame):
        howto.recv_counted(fs)


def test_typed_refuses_an_unknown_type(impl: Any) -> None:
    with fed(impl, howto.LINES, b"Xabc") as fs, pytest.raises(ff.ProtocolError, match="unknown message type"):
        howto.recv_typed(fs)


def test_typed_reads_back_to_back_messages(impl: Any) -> None:
    with fed(impl, howto.LINES, b"P" + b"T12345678" + b"N" + b"n" * 32 + b"P") as fs:
        got = [howto.recv_typed(fs) for _ in range(4)]
    assert got == [(b"P", b""), (b"T", b"12345678"), (b"N", b"n" * 32), (b"P", b"")]


def test_senders_refuse_what_their_pattern_cannot_say(impl: Any) -> None:
    a, b = socket.socketpair()
    with impl.FramedSocket(a, howto.FIXED) as fs:
        with pytest.raises(ValueError, match="64 bytes at most"):
            howto.send_fixed(fs, b"x" * 65)
        with pytest.raises(ValueError, match="at most 99999 bytes"):
            howto.send_counted(fs, b"x" * 100_000)
        with pytest.raises(ValueError, match="is 8 bytes"):
            howto.send_typed(fs, b"T", b"123")
    b.close()


def test_the_script_runs_every_pattern() -> None:
    done = subprocess.run(
        [sys.executable, str(RECIPES / "socket_howto.py")],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(ANSWERS)
    for line, (name, answer) in zip(lines, ANSWERS.items()):
        assert line.split(" -> ") == [name.ljust(27), repr(answer)]
