"""What the cases' steps share: checks that raise ``Unexpected`` when a call takes
another path than the case is about, socket chores, and the plainest setup."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

from .measuring import Probe, Step


class Unexpected(AssertionError):
    """A case's call did not take the path the case is about."""


Raisable = type[BaseException] | tuple[type[BaseException], ...]


def raises(kind: Raisable, call: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except kind:
        return
    raise Unexpected(f"{call!r}{args!r} did not raise {kind!r}")


def equal(got: object, expected: object) -> None:
    if got != expected:
        raise Unexpected(f"got {got!r}, expected {expected!r}")


def drain(sock: socket.socket, nbytes: int, buffer: bytearray) -> None:
    """Read and drop exactly ``nbytes`` from a blocking raw socket."""
    while nbytes:
        got = sock.recv_into(buffer, min(nbytes, len(buffer)))
        if not got:
            raise Unexpected("the peer closed early")
        nbytes -= got


def sink(sock: socket.socket) -> None:
    """Read and drop everything until the peer closes."""
    buffer = bytearray(1 << 20)
    while sock.recv_into(buffer):
        pass


@contextlib.contextmanager
def closing_all(*socks: socket.socket) -> Iterator[None]:
    try:
        yield
    finally:
        for sock in socks:
            sock.close()


@contextlib.contextmanager
def plain(step: Step, **tracked: object) -> Iterator[Probe]:
    yield Probe(step, tracked)
