"""Every receive contender, by name.  Each reads one connection until the peer
closes it; ``receiver(name)`` says how, or raises ``Unavailable``.

* ``fastframe-CORE.METHOD``: ``FramedSocket`` of a core (``cython``: the
  compiled core, ``python``: the pure-Python twin, both as ``fastframe._cores``
  names them), calling ``recv_many()``, ``recv()`` or iterating (``iter``) until
  ``ConnectionClosed``.
* ``aio-CORE.API@LOOP``: ``fastframe.aio`` with the framer bound to a core, on
  asyncio's default loop or uvloop: ``frame_received`` (a ``FramedProtocol``
  counting frames), ``recv_many``, ``recv`` (a ``FramedReader`` loop) or ``iter``
  (``async for`` over the reader).
* ``anyio-CORE.API@LOOP``: ``fastframe.anyio``'s ``FramedStream`` with the framer
  bound to a core, over the socket's anyio stream, on anyio's asyncio backend
  (asyncio's default loop or uvloop) or its trio backend (``trio``):
  ``receive_many`` or ``receive`` until ``anyio.EndOfStream``.  They need anyio
  4.10 or later (``SocketStream.from_socket``), and trio for ``@trio``.
* ``howto``, ``best-python``, ``streams@LOOP``, ``anyio-handwritten@LOOP``: the
  peers (``peers/``).
* ``tls-NAME``: over TLS, as the client of the peer process (``tls``):
  ``tls-fastframe-CORE.METHOD`` (``FramedSocket.start_tls()``: fastframe's own
  session), ``tls-aio-CORE.API@LOOP`` (``ssl=``), ``tls-best-python`` (on an
  ``ssl.SSLSocket``), ``tls-streams@LOOP`` (``ssl=``), and two that frame
  nothing: ``tls-sink``, bytes decrypted by ``ssl.SSLSocket.recv_into`` (the
  limit), and ``tls-sender``, the ciphertext read and never decrypted (the
  peer's sending rate: the sink near it means the sender is the limit).

``EXTRA`` are listed but run only when asked for (``--all``, ``--contender``): the
pure twin's per-frame aio and anyio loops that no target reads, which would
lengthen the default run (by ~25 s) and ``--tls`` (by ~30 s more) for no verdict.

Both cores are measured in one process, whatever ``fastframe.IMPLEMENTATION``
picked.  The compiled core counts as missing when it does not import, as on a
pure-Python install; under ``FASTFRAME_BENCH_REQUIRE_CYTHON=1`` that is an error
for the caller to raise (``Unavailable.compiled``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import LengthPrefixed, _cores
from . import tls
from .ending import clean_eof
from .peers import best_python, howto

REQUIRE_CYTHON_VARIABLE = "FASTFRAME_BENCH_REQUIRE_CYTHON"
LOOPS = ("asyncio", "uvloop")
SOCKET_METHODS = ("recv_many", "recv", "iter")
AIO_APIS = ("frame_received", "recv_many", "recv", "iter")
ANYIO_LOOPS = (*LOOPS, "trio")  # anyio's asyncio backend on either loop, its trio backend
ANYIO_APIS = ("receive_many", "receive")
PEERS = [
    "best-python",
    "howto",
    *(f"streams@{loop}" for loop in LOOPS),
    *(f"anyio-handwritten@{loop}" for loop in ANYIO_LOOPS),
]

# What `fastframe bench` can run, in the order of its tables.
RECEIVERS = [
    *(f"fastframe-{core}.{method}" for core in _cores.NAMES for method in SOCKET_METHODS),
    *(f"aio-{core}.{api}@{loop}" for core in _cores.NAMES for loop in LOOPS for api in AIO_APIS),
    *(
        f"anyio-{core}.{api}@{loop}"
        for core in _cores.NAMES
        for loop in ANYIO_LOOPS
        for api in ANYIO_APIS
    ),
    *PEERS,
]
TLS = "tls-"  # the prefix of a contender over TLS
# What `fastframe bench --tls` can add, in the order of its TLS tables.
TLS_RECEIVERS = [
    *(f"{TLS}fastframe-{core}.{method}" for core in _cores.NAMES for method in SOCKET_METHODS),
    *(f"{TLS}aio-{core}.{api}@{loop}" for core in _cores.NAMES for loop in LOOPS for api in AIO_APIS),
    f"{TLS}best-python",
    *(f"{TLS}streams@{loop}" for loop in LOOPS),
    f"{TLS}sink",
    f"{TLS}sender",
]
EXTRA = frozenset(
    [
        *(f"aio-python.iter@{loop}" for loop in LOOPS),
        *(f"anyio-python.receive@{loop}" for loop in ANYIO_LOOPS),
        *(f"{TLS}aio-python.{api}@{loop}" for loop in LOOPS for api in ("recv", "iter")),
    ]
)

# read(sock, keep) -> frames received until the peer closes; each appended to keep
# (when it is a list): one loop serves both the timed count and the content check,
# deciding outside the loop whether to keep frames.
Read = Callable[[socket.socket, "list[bytes] | None"], int]


class Unavailable(Exception):
    """A contender that cannot run here; ``compiled`` when it is the compiled core
    or Cython that is missing."""

    def __init__(self, reason: str, compiled: bool) -> None:
        super().__init__(reason)
        self.compiled = compiled


def cython_required() -> bool:
    """Whether FASTFRAME_BENCH_REQUIRE_CYTHON=1 makes a missing compiled piece an error."""
    value = os.environ.get(REQUIRE_CYTHON_VARIABLE, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{REQUIRE_CYTHON_VARIABLE}={value!r}: expected 1 or 0")
    return value == "1"


def load_core(name: str) -> _cores.Core:
    """The core called ``name`` ("cython" or "python"); Unavailable, naming the
    module that did not import, when it is not in this installation."""
    try:
        return _cores.load(name)
    except ImportError as exc:
        # only a compiled core can be missing: the twin imports wherever _cores does
        what = exc.name or f"the {name} core"
        raise Unavailable(f"{what} does not import: {exc}", compiled=True) from exc


def event_loop_runner(loop: str) -> Callable[[Any], Any]:
    """Runs a coroutine on a new loop of that kind (asyncio's default, or uvloop)."""
    import asyncio

    if loop == "asyncio":
        new_loop = asyncio.new_event_loop
    elif loop != "uvloop":
        raise LookupError(loop)
    else:
        try:
            import uvloop
        except ImportError as exc:
            raise Unavailable(f"uvloop does not import: {exc}", compiled=False) from exc
        new_loop = uvloop.new_event_loop

    def run(coro: Any) -> Any:
        # Not asyncio.run: its SIGINT handler turns Ctrl-C into a cancellation
        # that the code under test may see first; here it is a KeyboardInterrupt.
        try:
            event_loop = new_loop()
        except BaseException:  # Ctrl-C, say: the coroutine never starts
            coro.close()
            raise
        try:
            return event_loop.run_until_complete(coro)
        finally:
            event_loop.close()

    return run


def anyio_runner(loop: str) -> Callable[[Any], Any]:
    """Runs a coroutine of anyio code on a new loop of that kind: asyncio's default
    or uvloop (anyio's asyncio backend, as under any asyncio program) or trio."""
    try:
        import anyio
    except ImportError as exc:
        raise Unavailable(f"anyio does not import: {exc}", compiled=False) from exc
    if not hasattr(anyio.abc.SocketStream, "from_socket"):
        from importlib.metadata import version

        raise Unavailable(
            f"anyio {version('anyio')} cannot take an accepted socket "
            "(SocketStream.from_socket): pip install 'anyio>=4.10'",
            compiled=False,
        )
    if loop != "trio":
        return event_loop_runner(loop)
    try:
        import trio
    except ImportError as exc:
        raise Unavailable(f"trio does not import: {exc}", compiled=False) from exc

    def run(coro: Any) -> Any:
        async def main() -> Any:
            return await coro

        try:
            return trio.run(main)
        finally:
            coro.close()  # never started (Ctrl-C in trio.run's start): no "never awaited"

    return run


@dataclass(frozen=True)
class Receiver:
    """``count(sock)`` reads until EOF and returns the number of frames
    (``counts_bytes``: of bytes; ``ciphertext``: of the TLS bytes, which cannot be
    compared with what was sent); ``frames(sock)`` is the same loop keeping what it
    got (a list of frames, or the bytes), for the content check."""

    count: Callable[[socket.socket], int]
    frames: Callable[[socket.socket], Any]
    counts_bytes: bool = False
    ciphertext: bool = False


def _keeping(read: Read) -> Receiver:
    def frames(sock: socket.socket) -> list[bytes]:
        out: list[bytes] = []
        read(sock, out)
        return out

    return Receiver(lambda sock: read(sock, None), frames)


def _framed_socket(core: str, method: str, over_tls: bool = False) -> Read:
    cls = load_core(core).FramedSocket
    framer = LengthPrefixed(4)
    context = tls.client_context() if over_tls else None

    def framed(sock: socket.socket) -> Any:
        fs = cls(sock, framer)
        if context is not None:
            fs.start_tls(context, server_hostname=tls.HOSTNAME)  # closes fs if it fails
        return fs

    if method == "recv_many":

        def read(sock: socket.socket, keep: list[bytes] | None) -> int:
            frames = 0
            with framed(sock) as fs, clean_eof():
                if keep is None:
                    while True:
                        frames += len(fs.recv_many())  # one call per batch: no alias needed
                else:
                    while True:
                        keep += fs.recv_many()
            return frames

    elif method == "recv":

        def read(sock: socket.socket, keep: list[bytes] | None) -> int:
            frames = 0
            with framed(sock) as fs, clean_eof():
                recv = fs.recv
                if keep is None:
                    while True:
                        recv()
                        frames += 1
                else:
                    append = keep.append
                    while True:
                        append(recv())
            return frames

    elif method == "iter":

        def read(sock: socket.socket, keep: list[bytes] | None) -> int:
            frames = 0
            with framed(sock) as fs:
                if keep is None:
                    for _ in fs:
                        frames += 1
                else:
                    keep += fs
            return frames

    else:
        raise LookupError(method)
    return read


def _over_tls(read: Callable[[socket.socket], Any]) -> Callable[[socket.socket], Any]:
    """``read`` on the client's ``ssl.SSLSocket`` over ``sock``, closed after."""

    def run(sock: socket.socket) -> Any:
        with tls.wrap(sock) as tls_sock:
            return read(tls_sock)

    return run


def receiver(name: str) -> Receiver:
    """The receive contender called ``name``; raises Unavailable, or LookupError for
    a name that is none."""
    if name.startswith(TLS):
        return _tls_receiver(name.removeprefix(TLS))
    if name == "howto":
        return Receiver(howto.count, howto.frames)
    if name == "best-python":
        return Receiver(best_python.count, best_python.frames)
    found = _framing_receiver(name, {})
    if found is None:
        raise LookupError(name)
    return found


def _tls_receiver(name: str) -> Receiver:
    """The contender ``tls-<name>``."""
    try:
        context = tls.client_context()  # made once: its certificate too
    except tls.NoCertificate as exc:
        raise Unavailable(str(exc), compiled=False) from None
    if name == "sink":
        return Receiver(tls.sink_count, tls.sink_bytes, counts_bytes=True)
    if name == "sender":
        return Receiver(tls.ciphertext_count, tls.ciphertext_count, ciphertext=True)
    if name == "best-python":
        return Receiver(_over_tls(best_python.count), _over_tls(best_python.frames))
    # asyncio's way: ssl= and the name to check, to open_connection / create_connection
    client = {"ssl": context, "server_hostname": tls.HOSTNAME}
    found = _framing_receiver(name, client)
    if found is None:
        raise LookupError(f"{TLS}{name}")
    return found


def _framing_receiver(name: str, client: dict[str, Any]) -> Receiver | None:
    """``streams@LOOP``, ``fastframe-CORE.METHOD`` or ``aio-CORE.API@LOOP``, as the
    TLS client when ``client`` holds asyncio's TLS arguments, or in the clear only
    ``anyio-handwritten@LOOP`` and ``anyio-CORE.API@LOOP``; None for other names."""
    what, _, loop = name.partition("@")
    if what == "streams" and loop:
        from .peers import streams

        run = event_loop_runner(loop)
        return _keeping(lambda sock, keep: run(streams.read(sock, keep, **client)))
    if what == "anyio-handwritten" and loop in ANYIO_LOOPS and not client:
        run = anyio_runner(loop)  # first: it says when anyio is missing
        from .peers import anyio_handwritten

        return _keeping(lambda sock, keep: run(anyio_handwritten.read(sock, keep)))
    family, _, method = what.partition(".")
    kind, _, core = family.partition("-")
    if kind == "fastframe" and core in _cores.NAMES and method in SOCKET_METHODS and not loop:
        return _keeping(_framed_socket(core, method, over_tls=bool(client)))
    if kind == "aio" and core in _cores.NAMES and method in AIO_APIS and loop:
        from . import aio_receivers

        run = event_loop_runner(loop)
        framer = load_core(core).bind(LengthPrefixed(4))
        read = aio_receivers.reader(method)
        return _keeping(lambda sock, keep: run(read(sock, framer, keep, **client)))
    if kind == "anyio" and core in _cores.NAMES and method in ANYIO_APIS and loop in ANYIO_LOOPS and not client:
        run = anyio_runner(loop)
        framer = load_core(core).bind(LengthPrefixed(4))
        from . import anyio_receivers

        read_anyio = anyio_receivers.reader(method)
        return _keeping(lambda sock, keep: run(read_anyio(sock, framer, keep)))
    return None
