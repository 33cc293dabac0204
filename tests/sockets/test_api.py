"""FramedSocket's API details, on each core: construction and bad arguments, the
attributes, non-blocking receives, close() / context manager / detach(), and
fastframe.connect() over TCP (v4, v6) and AF_UNIX."""

from __future__ import annotations

import errno
import os
import select
import socket
from pathlib import Path
from typing import Any

import pytest

import fastframe as ff
from fastframe.errors import ConnectionClosed, IncompleteFrame
from tests.support.platforms import HAVE_UNIX_SOCKETS, requires_unix_sockets, unix_socket_path
from tests.support.sockets import IO_TIMEOUT, Watchdog, framed, listener, needs_detach, pair, peer, read_all, transport  # noqa: F401 - fixtures

LP = ff.LengthPrefixed(4)


# -- construction ------------------------------------------------------------------------------


def test_attributes(impl: Any, pair: Any) -> None:
    a, b = pair
    fs = framed(impl, a, LP)
    assert type(fs) is impl.FramedSocket
    assert fs.socket is a
    assert fs.framer is LP
    assert fs.fileno() == a.fileno()
    assert fs.buffered == 0
    assert fs.pending_output == 0
    assert fs.wants_write is False
    with pytest.raises(AttributeError):
        fs.socket = b


def test_constructor_refuses_non_sockets_and_non_framers(impl: Any, pair: Any) -> None:
    a, _ = pair
    for not_a_socket in (None, a.fileno(), "socket", object()):
        with pytest.raises(TypeError):
            framed(impl, not_a_socket, LP)
    for not_a_framer in (None, "lines", LP.decoder(), ff.LengthPrefixed, b"\n"):
        with pytest.raises(TypeError):
            framed(impl, a, not_a_framer)
    fs = framed(impl, a, LP)
    with pytest.raises(TypeError):
        fs.framer = "lines"
    with pytest.raises(TypeError):
        fs.framer = None
    assert fs.framer is LP


def test_constructor_refuses_datagram_sockets(impl: Any) -> None:
    families = [socket.AF_INET] + ([socket.AF_UNIX] if HAVE_UNIX_SOCKETS else [])
    for family in families:
        with socket.socket(family, socket.SOCK_DGRAM) as s, pytest.raises(ValueError):
            framed(impl, s, LP)


def test_bad_call_arguments(impl: Any, pair: Any) -> None:
    """recv_many(max_frames) None or >= 1; recv_exactly(n >= 0); recv_until needs a
    non-empty delimiter; sizes must be ints."""
    a, b = pair
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"a\nb\n")
    for bad in (0, -1, -(2**70)):
        with pytest.raises(ValueError):
            fs.recv_many(max_frames=bad)
    for bad in (1.5, "3", b"3"):
        with pytest.raises((TypeError, ValueError)):
            fs.recv_many(max_frames=bad)
    with pytest.raises(ValueError):
        fs.recv_exactly(-1)
    with pytest.raises(TypeError):
        fs.recv_exactly(1.0)
    with pytest.raises(TypeError):
        fs.recv_exactly(None)
    with pytest.raises(ValueError):
        fs.recv_until(b"")
    with pytest.raises(TypeError):
        fs.recv_until("\n")
    with pytest.raises(ValueError):
        fs.recv_until(b"\n", max_size=0)
    with pytest.raises(ValueError):
        fs.recv_until_eof(max_size=0)
    # over sys.maxsize: refused in the framers' words, not a C OverflowError
    # (the compiled core raised one; the twin took the call)
    for call in (
        lambda: fs.recv_many(max_frames=2**63),
        lambda: fs.recv_exactly(2**63),
        lambda: fs.recv_until(b"\n", max_size=2**63),
        lambda: fs.recv_until_eof(max_size=2**63),
    ):
        with pytest.raises(ValueError, match=r"at most sys\.maxsize"):
            call()
    # nothing was consumed by the refused calls
    assert fs.recv_many(max_frames=None) == [b"a", b"b"]
    assert fs.recv_exactly(0) == b""


# -- non-blocking receives ----------------------------------------------------------------------


def test_nonblocking_receive(impl: Any, transport: Any) -> None:
    """Non-blocking: recv() and the raw reads raise BlockingIOError while what they need
    has not arrived (keeping what did), recv_many() returns []."""
    a, b = transport
    a.setblocking(False)
    fs = framed(impl, a, LP)
    with pytest.raises(BlockingIOError):
        fs.recv()
    assert fs.recv_many() == []
    b.sendall(b"\x00\x00\x00\x05he")
    select.select([a], [], [], IO_TIMEOUT)
    for _ in range(3):
        with pytest.raises(BlockingIOError):
            fs.recv()
        assert fs.recv_many() == []
        with pytest.raises(BlockingIOError):
            fs.recv_exactly(7)
        with pytest.raises(BlockingIOError):
            fs.recv_until(b"!")
        with pytest.raises(BlockingIOError):
            fs.recv_until_eof()
    assert fs.buffered == 6
    b.sendall(b"llo\x00\x00\x00\x01!")
    assert wait_readable_then(a, fs.recv_many) in ([b"hello", b"!"], [b"hello"])


def wait_readable_then(sock: socket.socket, call: Any) -> Any:
    """Retry a non-blocking call until it returns something (bounded)."""
    for _ in range(1000):
        try:
            result = call()
        except BlockingIOError:
            result = None
        if result:
            return result
        select.select([sock], [], [], IO_TIMEOUT)
    raise AssertionError("nothing arrived")


def test_nonblocking_recv_many_returns_every_complete_frame(impl: Any, pair: Any) -> None:
    a, b = pair
    a.setblocking(False)
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"1\n2\n3\n4")
    select.select([a], [], [], IO_TIMEOUT)
    assert fs.recv_many(max_frames=2) == [b"1", b"2"]
    assert fs.recv_many() == [b"3"]
    assert fs.recv_many() == []
    assert fs.buffered == 1
    with pytest.raises(BlockingIOError):
        fs.recv_until(b"\n")
    assert fs.recv_exactly(1) == b"4"
    b.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionClosed):
        wait_readable_then(a, fs.recv)


def test_nonblocking_recv_until_eof(impl: Any, pair: Any) -> None:
    a, b = pair
    a.setblocking(False)
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"abc")
    with pytest.raises(BlockingIOError):
        fs.recv_until_eof()
    b.sendall(b"def")
    b.shutdown(socket.SHUT_WR)
    assert wait_readable_then(a, fs.recv_until_eof) == b"abcdef"


# -- close, context manager, detach -----------------------------------------------------------


def test_close_is_idempotent_then_ebadf(impl: Any, pair: Any) -> None:
    """close() closes the socket, twice is fine, and every I/O call after it raises
    OSError(EBADF)."""
    a, b = pair
    fs = framed(impl, a, LP)
    fs.close()
    fs.close()
    assert a.fileno() == -1
    calls = [
        fs.recv,
        fs.recv_many,
        lambda: fs.recv_exactly(1),
        lambda: fs.recv_until(b"\n"),
        fs.recv_until_eof,
        lambda: next(iter(fs)),
        lambda: fs.send(b"x"),
        lambda: fs.send_many([b"x"]),
        lambda: fs.sendall(b"x"),
        fs.flush,
        fs.shutdown_write,
    ]
    for call in calls:
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EBADF, (call, info.value)
    assert b.recv(10) == b""  # the peer sees the close


def test_close_discards_queued_output(impl: Any, pair: Any) -> None:
    """close() with output queued: the queue never goes out (the peer gets what the
    kernel had taken, then EOF) and pending_output is 0."""
    a, b = pair
    a.setblocking(False)
    fs = framed(impl, a, LP)
    total = 0
    while fs.pending_output < 2 * 65540:
        fs.send(b"x" * 65536)
        total += 65540
    queued = fs.pending_output
    fs.close()
    assert a.fileno() == -1
    assert fs.pending_output == 0 and fs.wants_write is False
    assert len(read_all(b)) == total - queued


def test_context_manager(impl: Any, pair: Any) -> None:
    """`with fs as x`: x is fs; the socket is closed on exit, also on an exception."""
    a, b = pair
    with framed(impl, a, LP) as fs:
        assert fs.socket is a
        fs.send(b"hi")
    assert a.fileno() == -1
    assert b.recv(100) == b"\x00\x00\x00\x02hi"

    c, d = socket.socketpair()
    with d:
        with pytest.raises(RuntimeError), framed(impl, c, LP) as fs2:
            raise RuntimeError("inside")
        assert c.fileno() == -1
        fs2.close()


def test_detach_returns_the_socket_and_unread_bytes(impl: Any, transport: Any) -> None:
    """detach(): the socket (open, still working) and every byte received but not
    returned; the FramedSocket is closed afterwards (EBADF) without closing the socket."""
    a, b = transport
    needs_detach(a)
    fs = framed(impl, a, LP)
    b.sendall(b"\x00\x00\x00\x01a\x00\x00\x00\x01b\x00\x00\x00\x05hel")
    assert fs.recv() == b"a"
    sock, rest = fs.detach()
    assert sock is a and a.fileno() != -1
    assert type(rest) is bytes
    assert rest == b"\x00\x00\x00\x01b\x00\x00\x00\x05hel"
    b.sendall(b"lo")
    assert a.recv(10) == b"lo"
    a.sendall(b"back")
    assert b.recv(10) == b"back"
    with pytest.raises(OSError) as info:
        fs.recv()
    assert info.value.errno == errno.EBADF
    fs.close()  # closed already: nothing happens to the detached socket
    assert a.fileno() != -1
    # a new FramedSocket on the detached socket, fed with the unread bytes by the peer
    fs2 = framed(impl, a, LP)
    b.sendall(b"\x00\x00\x00\x01z")
    assert fs2.recv() == b"z"


def test_detach_after_recv_many_and_raw_reads(impl: Any, pair: Any) -> None:
    a, b = pair
    needs_detach(a)
    fs = framed(impl, a, ff.Lines())
    b.sendall(b"x\ny\nRAWz")
    assert fs.recv_many() == [b"x", b"y"]
    assert fs.recv_exactly(3) == b"RAW"
    assert fs.detach() == (a, b"z")


def test_detach_after_eof_inside_a_frame(impl: Any, pair: Any) -> None:
    """The bytes of an IncompleteFrame are still there to detach."""
    a, b = pair
    needs_detach(a)
    fs = framed(impl, a, LP)
    b.sendall(b"\x00\x00\x00\x09part")
    b.shutdown(socket.SHUT_WR)
    with pytest.raises(IncompleteFrame):
        fs.recv()
    assert fs.detach() == (a, b"\x00\x00\x00\x09part")


# -- fastframe.connect -------------------------------------------------------------------------


def serve_one(lst: socket.socket) -> Any:
    def run() -> bytes:
        lst.settimeout(IO_TIMEOUT)
        conn, _ = lst.accept()
        with conn:
            conn.settimeout(IO_TIMEOUT)
            data = conn.recv(100)
            conn.sendall(b"echo:" + data)
            return data

    return peer(run)


@pytest.mark.parametrize(
    "kind",
    ["tcp4", "tcp6", *(pytest.param(k, marks=requires_unix_sockets) for k in ("unix-str", "unix-bytes", "unix-path"))],
)
def test_connect(kind: str, tmp_path: Path) -> None:
    """fastframe.connect((host, port) or a Unix path, framer, timeout): a FramedSocket
    of the selected core, its socket's timeout set."""
    lst, address = listener(kind.split("-")[0], tmp_path)
    with lst:
        if kind == "tcp4":
            target: Any = ("127.0.0.1", address[1])
        elif kind == "tcp6":
            target = ("::1", address[1])
        elif kind == "unix-str":
            target = address
        elif kind == "unix-bytes":
            target = os.fsencode(address)
        else:
            target = Path(address)
        srv = serve_one(lst)
        fs = ff.connect(target, ff.Lines(), timeout=5)
        with fs:
            assert type(fs) is ff.FramedSocket
            assert fs.socket.gettimeout() == 5
            assert fs.socket.type == socket.SOCK_STREAM
            if kind.startswith("tcp"):
                expected_family = socket.AF_INET if kind == "tcp4" else socket.AF_INET6
            else:
                expected_family = socket.AF_UNIX
            assert fs.socket.family == expected_family
            fs.send(b"hello")
            assert fs.recv() == b"echo:hello"
        assert srv.finish() == b"hello\n"


@pytest.mark.parametrize("kind", ["tcp4", pytest.param("unix", marks=requires_unix_sockets)])
def test_connect_without_timeout_is_blocking(kind: str, tmp_path: Path) -> None:
    lst, address = listener(kind, tmp_path)
    with lst:
        srv = serve_one(lst)
        with ff.connect(address, ff.Lines()) as fs:
            assert fs.socket.gettimeout() is None
            fs.send(b"x")
            dog = Watchdog([fs.socket])
            assert fs.recv() == b"echo:x"
            dog.cancel()
        srv.finish()


def test_connect_refused(tmp_path: Path) -> None:
    lst, address = listener("tcp4")
    lst.close()
    with pytest.raises(ConnectionRefusedError):
        ff.connect(address, ff.Lines(), timeout=5)
    if HAVE_UNIX_SOCKETS:
        with pytest.raises(FileNotFoundError):
            ff.connect(unix_socket_path(tmp_path, "nothing-here"), ff.Lines())


# a str or bytes address that reads as HOST:PORT, and the tuple it meant
HOST_PORT_TEXT = [("127.0.0.1:1", ("127.0.0.1", 1)), (b"localhost:8000", ("localhost", 8000)), ("[::1]:80", ("::1", 80))]


@requires_unix_sockets
@pytest.mark.parametrize(("address", "meant"), HOST_PORT_TEXT)
def test_connect_to_host_port_text_says_to_pass_a_tuple(
    address: str | bytes, meant: tuple[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A str or bytes is a Unix socket path; one that reads as HOST:PORT and is no
    file was meant for TCP: a ValueError says so (it was a FileNotFoundError with
    no path)."""
    monkeypatch.chdir(tmp_path)  # where no such relative path exists
    with pytest.raises(ValueError) as info:
        ff.connect(address, ff.Lines(), timeout=5)
    message = str(info.value)
    assert message.startswith(f"{os.fsdecode(address)!r} is taken as a Unix socket path, and there is no such file")
    assert message.endswith(f"for TCP, pass a (host, port) tuple: connect({meant!r}, framer)")


@requires_unix_sockets
def test_connect_to_a_socket_path_that_reads_as_host_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A path that exists is a path, whatever it looks like."""
    monkeypatch.chdir(tmp_path)
    with socket.socket(socket.AF_UNIX) as lst:
        lst.bind("localhost:80")
        lst.listen()
        with ff.connect("localhost:80", ff.Lines(), timeout=5) as fs, lst.accept()[0] as theirs:
            fs.send(b"hi")
            assert theirs.recv(16) == b"hi\n"


@requires_unix_sockets
def test_connect_to_a_missing_unix_socket_names_the_path(tmp_path: Path) -> None:
    path = unix_socket_path(tmp_path, "nothing-here")
    with pytest.raises(FileNotFoundError) as info:
        ff.connect(path, ff.Lines(), timeout=5)
    exc = info.value
    assert (exc.errno, exc.filename) == (errno.ENOENT, path)
    assert exc.strerror.startswith("no Unix socket there (no such file or directory)")  # what was wrong
    assert exc.strerror.endswith("check the path, and that the server listens on it")  # what to do
    assert str(exc).endswith(f": {path!r}")


def test_connect_to_a_path_without_unix_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there are no AF_UNIX sockets (Windows), a path is an OSError
    EAFNOSUPPORT, no socket made."""
    monkeypatch.delattr(socket, "AF_UNIX", raising=False)
    with pytest.raises(OSError) as info:
        ff.connect("/no/such/socket", ff.Lines(), timeout=5)
    assert info.value.errno == errno.EAFNOSUPPORT


def test_selected_core() -> None:
    """fastframe.FramedSocket is the API on the selected core's loop."""
    from fastframe import _core_py

    if ff.IMPLEMENTATION == "cython":
        from fastframe import _core_c as core
    else:
        core = _core_py  # type: ignore[assignment]
    assert issubclass(ff.FramedSocket, core.SocketLoop)


def test_head_is_for_length_prefixed_framers(impl: Any, pair: Any) -> None:
    """send(head=...) and send_many(head=...) on another framer: TypeError, nothing sent."""
    a, b = pair
    fs = framed(impl, a, ff.Lines())
    with pytest.raises(TypeError):
        fs.send(b"x", head=b"Q")
    with pytest.raises(TypeError):
        fs.send_many([b"x"], head=b"Q")
    assert fs.pending_output == 0
    fs.send(b"after")
    assert b.recv(100) == b"after\n"


def test_socket_attribute_after_close_and_detach(impl: Any) -> None:
    """fs.socket is the socket while attached, None once closed or detached."""
    for end in ("close", "detach"):
        a, b = socket.socketpair()
        with b:
            fs = framed(impl, a, ff.Lines())
            assert fs.socket is a
            getattr(fs, end)()
            assert fs.socket is None
            a.close()


def test_wrapped_sockets_are_refused(impl: Any, pair: Any) -> None:
    """A socket class that overrides its I/O methods (as ssl.SSLSocket does) is refused:
    reading its descriptor directly would bypass the wrapper."""
    import ssl

    class Wrapped(socket.socket):
        def recv_into(self, *args: Any, **kwargs: Any) -> int:  # pragma: no cover
            return super().recv_into(*args, **kwargs)

    a, b = pair
    wrapped = Wrapped(fileno=os.dup(a.fileno()))
    with wrapped, pytest.raises(TypeError, match="recv"):
        framed(impl, wrapped, ff.Lines())
    assert issubclass(ssl.SSLSocket, socket.socket)
    assert ssl.SSLSocket.recv_into is not socket.socket.recv_into


def test_two_threads_receiving_at_once(impl: Any, pair: Any) -> None:
    """While one thread is blocked in recv(), a second receive call from another thread
    raises RuntimeError (the first call's buffer is in use); sending meanwhile works."""
    import threading

    a, b = pair
    fs = framed(impl, a, ff.Lines())
    first: list[Any] = []
    t = threading.Thread(target=lambda: first.append(fs.recv()))
    t.start()
    try:
        deadline = time_monotonic() + 5.0
        while True:
            try:
                fs.recv_many()
            except RuntimeError as exc:
                assert "another thread" in str(exc)
                break
            except Exception as exc:  # pragma: no cover - a failure
                raise AssertionError(f"expected RuntimeError, got {exc!r}") from exc
            assert time_monotonic() < deadline, "the second recv() never saw the first"
        fs.send(b"ping")
        assert b.recv(100) == b"ping\n"
    finally:
        b.sendall(b"line\n")
        t.join(5.0)
    assert first == [b"line"]


def time_monotonic() -> float:
    import time

    return time.monotonic()
