"""Socket fixtures and peers: connected socket pairs over every transport, TLS
included, a peer running in a thread, a watchdog that turns a hang into a
failure, what a test does with a FramedSocket's frames and timing, and what an
async front end's connect to a Unix path with no socket must say.

Import the fixtures into a test module with
``from tests.support.sockets import transport``.  Make FramedSockets with
``framed(impl, sock, framer)``: over a TLS transport it puts the session the
fixture shook hands on beneath the FramedSocket.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fastframe._tls import Session
from fastframe._waiting import Call
from fastframe.errors import ConnectionClosed

from . import certs
from .platforms import LINGER_RESET, requires_unix_sockets, unix_socket_path

# (socketpair() is AF_UNIX on Linux and macOS, TCP over 127.0.0.1 on Windows)
PLAIN_KINDS = ["socketpair", "tcp4", "tcp6", pytest.param("unix", marks=requires_unix_sockets)]
TCP_KINDS = ["tcp4", "tcp6"]
# TLS over TCP: "tls" is fastframe's own session (what connect(ssl=) and
# start_tls() make), "tls-sslsocket" an ssl.SSLSocket given to FramedSocket.
TLS_KINDS = ["tls", "tls-sslsocket"]
KINDS = [*PLAIN_KINDS, *TLS_KINDS]

#: every wait in these tests is bounded by this: a bug fails, it does not hang
IO_TIMEOUT = 10.0

MiB = 1024 * 1024


# -- connected pairs --------------------------------------------------------------------


def _unix_path(directory: Path | None) -> str:
    path = unix_socket_path(directory)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return path


def listener(kind: str, directory: Path | None = None) -> tuple[socket.socket, Any]:
    """A listening socket of ``kind`` (not socketpair) and the address to connect to.

    tcp6 skips the test when ::1 cannot be bound."""
    if kind == "tcp4":
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.bind(("127.0.0.1", 0))
    elif kind == "tcp6":
        if not socket.has_ipv6:
            pytest.skip("no IPv6 support in this Python")
        lst = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            lst.bind(("::1", 0))
        except OSError as exc:
            lst.close()
            pytest.skip(f"cannot bind ::1: {exc}")
    elif kind == "unix":
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lst.bind(_unix_path(directory))
    else:
        raise ValueError(kind)
    lst.listen(8)
    return lst, lst.getsockname()


def connected_pair(kind: str, directory: Path | None = None) -> tuple[socket.socket, socket.socket]:
    """A connected (a, b) pair of blocking plain stream sockets of the given kind.

    TCP sockets get TCP_NODELAY, so every send goes out as its own segment."""
    if kind == "socketpair":
        return socket.socketpair()
    lst, address = listener(kind, directory)
    try:
        a = socket.socket(lst.family, socket.SOCK_STREAM)
        a.settimeout(IO_TIMEOUT)
        a.connect(address)
        lst.settimeout(IO_TIMEOUT)
        b, _ = lst.accept()
    finally:
        lst.close()
        if kind == "unix":
            with contextlib.suppress(OSError):
                os.unlink(address)
    for s in (a, b):
        s.settimeout(None)
        if kind in TCP_KINDS:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return a, b


class Watchdog:
    """Shuts both sockets down if the test is still running after ``seconds``: a
    blocked call then returns (EOF) and the test fails instead of hanging."""

    def __init__(self, socks: Sequence[socket.socket], seconds: float = IO_TIMEOUT) -> None:
        self.fired = False
        self._socks = list(socks)
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: Any) -> None:
        self._socks.append(sock)

    def _fire(self) -> None:
        self.fired = True
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()
        self._timer.join(IO_TIMEOUT)
        assert not self.fired, "the watchdog fired: a call blocked for longer than it should"


@pytest.fixture(params=KINDS)
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A connected (a, b) pair: socketpair(), TCP on 127.0.0.1, TCP on ::1, AF_UNIX
    at a path in tmp_path, and TLS over TCP both ways.  Both blocking; a watchdog
    shuts them down after 10 s."""
    with fresh_pair(request.param, tmp_path) as ab:
        yield ab


@pytest.fixture(params=["socketpair", "tls"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    """A socketpair(), and fastframe's TLS over TCP, with a watchdog, for tests
    whose subject does not depend on the kind of socket (timing, signals,
    argument checks)."""
    with fresh_pair(request.param) as ab:
        yield ab


@pytest.fixture
def plain_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A socketpair() with a watchdog, for tests of the plain socket itself."""
    with fresh_pair("socketpair") as ab:
        yield ab


@pytest.fixture(params=TCP_KINDS)
def tcp_transport(request: pytest.FixtureRequest) -> Iterator[tuple[socket.socket, socket.socket]]:
    """Like ``transport``, TCP only (v4 and v6)."""
    with fresh_pair(request.param) as ab:
        yield ab


@pytest.fixture(params=KINDS)
def transport_kind(request: pytest.FixtureRequest) -> str:
    """The transport's name, for tests that make a fresh pair per hypothesis example."""
    if request.param == "tcp6":
        listener("tcp6")[0].close()  # skips when ::1 is not available
    return request.param  # type: ignore[no-any-return]


@contextlib.contextmanager
def fresh_pair(kind: str, directory: Path | None = None) -> Iterator[tuple[Any, Any]]:
    """A connected pair of this kind under a watchdog, closed on exit."""
    a, b = connected_pair("tcp4" if kind in TLS_KINDS else kind, directory)
    dog = Watchdog([a, b])
    ends: tuple[Any, Any] = (a, b)
    try:
        if kind in TLS_KINDS:
            ends = secured(a, b, kind)
            dog.watch(ends[0])  # an SSLSocket took over a's descriptor
        yield ends
    finally:
        for sock in (*ends, a, b):
            sock.close()
        dog.cancel()


# -- TLS ---------------------------------------------------------------------------------

# plain socket -> the TLS session the fixture shook hands on it, for framed()
_SESSIONS: weakref.WeakKeyDictionary[socket.socket, Session] = weakref.WeakKeyDictionary()


def secured(a: socket.socket, b: socket.socket, kind: str) -> tuple[Any, TlsEnd]:
    """TLS over the plain pair, both handshakes done: ``a`` for a FramedSocket
    (client side), ``b`` the peer's end (server side, a TlsEnd)."""
    # No session tickets: TLS 1.3 sends them after the handshake, and a client
    # that closes without having read them makes the kernel reset the
    # connection, which tests of what the peer sees at close() would see
    # instead of the end of the stream.  (Tickets are read in tests/sockets/test_tls.py.)
    context = certs.server_context()
    context.num_tickets = 0
    server = Session(b, context, True, None)
    shaking = peer(server.handshake)
    try:
        if kind == "tls":
            client = Session(a, certs.client_context(), False, certs.SERVER_NAME)
            client.handshake()
            _SESSIONS[a] = client
            end: Any = a
        else:
            end = certs.client_context().wrap_socket(a, server_hostname=certs.SERVER_NAME)
    finally:
        shaking.finish()
    return end, TlsEnd(server)


def framed(impl: Any, sock: Any, framer: Any) -> Any:
    """``impl``'s FramedSocket over sock, over the TLS the fixture made on it if any."""
    if isinstance(sock, TlsEnd):
        fs = impl.framed_socket(sock.raw, framer)
        fs._use_tls(sock.session)
        return fs
    fs = impl.framed_socket(sock, framer)
    session = _SESSIONS.get(sock)
    if session is not None:
        fs._use_tls(session)
    return fs


def is_tls(sock: Any) -> bool:
    """Whether a FramedSocket made of sock by framed() speaks TLS."""
    return isinstance(sock, (TlsEnd, ssl.SSLSocket)) or sock in _SESSIONS


def needs_detach(sock: Any) -> None:
    """Skip the test over fastframe's own TLS: its session cannot be detached
    (tests/sockets/test_tls.py tests the refusal)."""
    if isinstance(sock, TlsEnd) or sock in _SESSIONS:
        pytest.skip("detach() refuses fastframe's own TLS session (test_tls tests it)")


def needs_half_close(sock: Any) -> None:
    """Skip the test over an ssl.SSLSocket: its shutdown_write() is refused
    (tests/sockets/test_tls.py tests the refusal)."""
    if isinstance(sock, ssl.SSLSocket):
        pytest.skip("shutdown_write() refuses an ssl.SSLSocket (test_tls tests it)")


def end_sending(fs: Any) -> None:
    """Tell the peer nothing more is coming: shutdown_write(), or close() where
    that is refused (an ssl.SSLSocket: its peer reads a bare FIN as the end)."""
    if isinstance(fs.tls, ssl.SSLSocket):
        fs.close()
    else:
        fs.shutdown_write()


class TlsEnd:
    """The peer's end of a TLS connection: the plain socket's methods tests call
    (sendall, recv, shutdown, ...), carried over a fastframe._tls.Session, so that
    shutdown(SHUT_WR) sends close_notify and reading goes on after it.  Calls
    wait as the plain socket's timeout says; anything else is the plain socket's."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.raw = session.socket

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def _wait(self, call: Call, writing: bool) -> None:
        if not call.wait(writing):
            raise BlockingIOError(errno.EAGAIN, "the socket is non-blocking and not ready")

    def send(self, data: Any) -> int:
        call = Call(self.raw, io_waits=False)
        while True:
            try:
                return self.session.send(data)
            except BlockingIOError:
                self._wait(call, True)

    def sendall(self, data: Any) -> None:
        with memoryview(data) as view:
            view = view.cast("B")
            while view:
                view = view[self.send(view) :]

    def recv(self, size: int) -> bytes:
        call = Call(self.raw, io_waits=False)
        while True:
            try:
                return self.session.recv(size)
            except BlockingIOError:
                self._wait(call, False)

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        call = Call(self.raw, io_waits=False)
        with memoryview(buffer) as view:
            view = view.cast("B")
            while True:
                try:
                    return self.session.recv_into(view[: nbytes or len(view)])
                except BlockingIOError:
                    self._wait(call, False)

    def shutdown(self, how: int) -> None:
        self.session.shutdown(how)

    def close(self) -> None:
        self.raw.close()

    def fileno(self) -> int:
        return self.raw.fileno()


# -- the peer ----------------------------------------------------------------------------


class Peer(threading.Thread):
    """Runs ``target(*args)`` in a thread; ``finish()`` joins it (bounded) and
    re-raises whatever it raised."""

    def __init__(self, target: Callable[..., Any], *args: Any) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self._args = args
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn(*self._args)
        except BaseException as exc:  # noqa: BLE001 - handed to finish()
            self.error = exc

    def finish(self, timeout: float = IO_TIMEOUT) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "the peer thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def peer(target: Callable[..., Any], *args: Any) -> Peer:
    p = Peer(target, *args)
    p.start()
    return p


def later(seconds: float, fn: Callable[..., Any], *args: Any) -> Peer:
    """A peer that calls ``fn(*args)`` after ``seconds`` (time for the test's call to block)."""

    def run() -> Any:
        time.sleep(seconds)
        return fn(*args)

    return peer(run)


def send_chunks(sock: socket.socket, chunks: Sequence[bytes], *, close: bool = True) -> None:
    """Send each chunk with its own sendall (then half-close the socket)."""
    for chunk in chunks:
        if chunk:
            sock.sendall(chunk)
    if close:
        sock.shutdown(socket.SHUT_WR)


def send_and_close(sock: socket.socket, data: bytes) -> Peer:
    """A peer that sends ``data`` in one write, then half-closes."""
    return peer(send_chunks, sock, [data])


def read_all(sock: socket.socket) -> bytes:
    """Every byte until EOF (the peer side of a send test)."""
    out = bytearray()
    while True:
        data = sock.recv(1 << 20)
        if not data:
            return bytes(out)
        out += data


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER (1, 0): the peer gets a TCP RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    sock.close()


# -- frames and timing ---------------------------------------------------------------------


def drain_frames(fs: Any, how: str) -> list[bytes]:
    """Every frame until a clean EOF, by ``recv``, ``recv_many`` or ``iter``."""
    frames: list[bytes] = []
    if how == "iter":
        for frame in fs:
            assert type(frame) is bytes
            frames.append(frame)
        return frames
    while True:
        try:
            if how == "recv":
                got = [fs.recv()]
            else:
                got = fs.recv_many()
                assert got, "blocking recv_many() returned []"
        except ConnectionClosed as exc:
            assert type(exc) is ConnectionClosed, repr(exc)
            return frames
        assert all(type(frame) is bytes for frame in got)
        frames += got


def elapsed_of(call: Callable[[], Any], exc_type: type[BaseException]) -> tuple[BaseException, float]:
    """Run ``call``, which must raise ``exc_type``; return the exception and the time taken."""
    start = time.monotonic()
    with pytest.raises(exc_type) as info:
        call()
    return info.value, time.monotonic() - start


def rss() -> int | None:
    """The resident set size in bytes (Linux's /proc); None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except FileNotFoundError:
        return None


def is_ebadf(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EBADF


async def refused_unix_paths(connect: Callable[[str], Awaitable[Any]], directory: Path, tcp: str) -> None:
    """An async front end's ``connect(path)`` to a path with no socket in
    ``directory`` raises FileNotFoundError naming it, and to "127.0.0.1:1" (no
    such file in the working directory) a ValueError saying to use ``tcp``."""
    path = str(directory / "nothing-here")
    with pytest.raises(FileNotFoundError) as info:
        await connect(path)
    assert (info.value.errno, info.value.filename) == (errno.ENOENT, path)
    assert "no Unix socket there" in str(info.value) and "check the path" in str(info.value)
    with pytest.raises(ValueError) as error:
        await connect("127.0.0.1:1")
    assert str(error.value) == f"'127.0.0.1:1' is taken as a Unix socket path, and there is no such file: for TCP, use {tcp}"
