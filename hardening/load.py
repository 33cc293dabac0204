"""Load: thousands of framed connections open at once on loopback, every frame checked.

    python hardening/load.py [--connections 5000] [--frames N] [--server selectors|aio]
                             [--core cython|python] [--unix] [--json]

A server process (a ``selectors`` loop over non-blocking FramedSockets, or
``fastframe.aio.start_server``) and client processes (``selectors`` loops over
non-blocking FramedSockets) exchange LengthPrefixed(4) frames:

    server -> each connection, once all of them are accepted:    G        (go)
    client -> server, frame seq = 0 .. N-1, WINDOW unanswered:   Q conn seq body
    server -> client, for each of them:                           R conn seq body
    client -> server, once its N replies are verified:           D        (done)
    server -> every connection, once all of them are done:       B        (bye)

then the client shuts down its sending side, the server sees a clean EOF and
closes, and the client sees EOF.  So every connection is open from the first G to
the last D: the server's peak count of live connections is the whole lot.  A
body's length and bytes derive from (conn, seq): mostly small, some around the
core's 64 KiB large-frame threshold, and one frame on every LARGE_EVERY-th
connection larger than a loopback socket's receive buffer.  The server checks
that each connection's frames come in order; each client that every reply is its
own frame, complete, in order.  Any failure stops the run (exit status 1).

Every process raises its RLIMIT_NOFILE soft limit to the hard limit; a hard
limit too low for the connection count exits with status 3 and says so.  The
children exit when the parent does (they watch their stdin) and at the deadline
(--timeout); the parent kills them if they have not.

Reported: frames each way, frames/s over the exchange (from G to the last D, as
the server times it), the server's RSS (after start-up, with every connection
accepted and idle, with every connection done, and its peak: VmHWM) and each
client's peak RSS.  ``--json`` prints the report as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

WINDOW = 4  # frames a client connection has sent and not yet had answered
LARGE_EVERY = 50  # every 50th connection sends one frame of LARGE bytes or more
LARGE = 256 * 1024  # more than a loopback socket's default receive buffer (TCP: 128 KiB)
HIGH_WATER = 1 << 20  # the server stops reading a connection while this much of its echo is queued
FD_MARGIN = 64  # descriptors besides the connections: listener, pipes, selector, loop
EXIT_FAILED, EXIT_FD_LIMIT = 1, 3

HEADER = struct.Struct(">II")  # connection id, sequence number
GO, DATA, REPLY, DONE, BYE = b"G", b"Q", b"R", b"D", b"B"
RAMP = bytes(range(251))


class LoadError(Exception):
    """A check failed, or the run cannot go on (the message says which)."""


class FdLimitError(LoadError):
    """This machine's RLIMIT_NOFILE cannot hold the connections: a limit, not a failure."""


# -- what is sent, and what comes back -----------------------------------------------


def body_size(conn: int, seq: int, frames: int) -> int:
    """The body length of frame ``seq`` of connection ``conn`` (of ``frames``)."""
    if conn % LARGE_EVERY == 0 and seq == (conn // LARGE_EVERY) % frames:
        return LARGE + conn % 4093
    mix = (conn * 0x9E3779B1 + seq * 0x85EBCA77) & 0xFFFFFFFF
    mix ^= mix >> 13
    kind, size = mix % 64, mix >> 6
    if kind < 48:
        return size % 200
    if kind < 63:
        return 200 + size % 8000
    return 60_000 + size % 12_000  # both sides of the 64 KiB where the core builds a frame in place


def payload(conn: int, seq: int, frames: int) -> bytes:
    """Frame ``seq`` of connection ``conn``: tag, ids, and a body that repeats a
    259-byte unit (the ids, then a ramp rotated by both) to its length."""
    ids = HEADER.pack(conn, seq)
    turn = (conn * 7 + seq) % len(RAMP)
    unit = ids + RAMP[turn:] + RAMP[:turn]
    size = body_size(conn, seq, frames)
    return DATA + ids + (unit * (size // len(unit) + 1))[:size]


def describe(frame: bytes) -> str:
    """A frame, as a failure message names it."""
    if len(frame) >= 1 + HEADER.size:
        conn, seq = HEADER.unpack_from(frame, 1)
        return f"{frame[:1]!r} conn {conn} seq {seq}, {len(frame)} bytes"
    return f"{frame[:40]!r} ({len(frame)} bytes)"


def reply_problem(sent: bytes, reply: bytes) -> str | None:
    """Why ``reply`` is not the server's answer to ``sent`` (None when it is)."""
    if reply[:1] == REPLY and reply[1:] == sent[1:]:
        return None
    problem = f"expected the reply to {describe(sent)}, got {describe(reply)}"
    ids = 1 + HEADER.size
    if reply[:1] == REPLY and reply[1:ids] == sent[1:ids]:  # the right frame, damaged
        pairs = zip(sent[ids:], reply[ids:])
        at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(sent), len(reply)) - ids)
        problem += f": they differ from byte {ids + at} on"
    return problem


# -- the process's resources -----------------------------------------------------------


def raise_fd_limit(needed: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; the soft limit, or
    LoadError when it cannot hold ``needed`` descriptors."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (hard, needed):  # an infinite hard limit is refused on macOS: ask for what is needed
        if soft == resource.RLIM_INFINITY or (target != resource.RLIM_INFINITY and target <= soft):
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        soft = target
        break
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise FdLimitError(
            f"RLIMIT_NOFILE (soft {soft}, hard {hard}) cannot hold {needed} descriptors: "
            f"raise the hard limit (ulimit -Hn) or use fewer --connections"
        )
    return int(soft)


def status_bytes(field: str) -> int | None:
    """A size from /proc/self/status (VmRSS, VmHWM) in bytes; None where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss() -> int:
    """The process's peak resident set size in bytes."""
    hwm = status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024  # bytes there, KiB elsewhere


def say(role: str, message: str) -> None:
    """A line on stderr, written at once (the processes share it)."""
    sys.stderr.write(f"load: {role}{': ' if role else ''}{message}\n")
    sys.stderr.flush()


def remaining(deadline: float) -> float:
    return deadline - time.time()


def check_core(core: str) -> Any:
    import fastframe as ff

    if core != ff.IMPLEMENTATION:
        raise LoadError(f"asked for the {core} core, fastframe imported {ff.IMPLEMENTATION}")
    return ff


# -- the server --------------------------------------------------------------------------


class Stream:
    """What the server knows of one connection's frames."""

    __slots__ = ("conn", "next_seq", "done")

    def __init__(self) -> None:
        self.conn = -1  # its id, from its first frame
        self.next_seq = 0
        self.done = False  # it has sent D


class Server:
    """What the server counts and measures, whatever drives it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.total = args.connections
        self.frames = args.frames
        self.accepted = self.live = self.peak_live = 0
        self.done = self.closed = self.clean_eofs = 0
        self.frames_in = self.bytes_in = 0
        self.ids: set[int] = set()  # the connection ids seen
        self.rss: dict[str, int | None] = {"baseline": status_bytes("VmRSS")}
        self.times: dict[str, float] = {}
        self.buffers: dict[str, int] = {}

    def connected(self, sock: socket.socket) -> None:
        self.accepted += 1
        self.live += 1
        self.peak_live = max(self.peak_live, self.live)
        if self.accepted == 1:
            self.times["first_accept"] = time.time()
            self.buffers = {
                "rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                "sndbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
            }
        if self.accepted > self.total:
            raise LoadError(f"connection {self.accepted} of {self.total}")

    def all_accepted(self) -> bool:
        """True once, when the last connection is in: the moment to say go."""
        if self.accepted != self.total:
            return False
        self.rss["idle"] = status_bytes("VmRSS")
        self.times["go"] = time.time()
        say("server", f"{self.live} connections live, idle RSS {mib(self.rss['idle'])}; go")
        return True

    def answer(self, stream: Stream, frames: list[bytes]) -> list[bytes]:
        """The replies to one connection's frames (its ``stream``): they must be
        its own, in order, then one D."""
        replies = []
        for frame in frames:
            if frame[:1] == DATA and len(frame) >= 1 + HEADER.size and not stream.done:
                conn, seq = HEADER.unpack_from(frame, 1)
                if stream.conn == -1:
                    if conn in self.ids:
                        raise LoadError(f"conn {conn} is another connection's: {describe(frame)}")
                    stream.conn = conn
                    self.ids.add(conn)
                if (conn, seq) != (stream.conn, stream.next_seq):
                    raise LoadError(f"expected conn {stream.conn} seq {stream.next_seq}, got {describe(frame)}")
                stream.next_seq += 1
                self.bytes_in += len(frame)
                replies.append(REPLY + frame[1:])
            elif frame == DONE and stream.next_seq == self.frames and not stream.done:
                stream.done = True
            else:
                raise LoadError(f"conn {stream.conn} after {stream.next_seq} frames sent {describe(frame)}")
        self.frames_in += len(replies)
        return replies

    def one_done(self) -> bool:
        """A connection has sent D; True once all have: the moment to say bye."""
        self.done += 1
        if self.done != self.total:
            return False
        self.rss["active"] = status_bytes("VmRSS")
        self.times["all_done"] = time.time()
        say("server", f"all {self.total} connections done, RSS {mib(self.rss['active'])}; bye")
        return True

    def ended(self, clean: bool, conn: int) -> None:
        if not clean:
            raise LoadError(f"conn {conn} stopped inside a frame")
        if self.done != self.total:
            raise LoadError(f"conn {conn} closed before every connection was done ({self.done}/{self.total})")
        self.clean_eofs += 1
        self.live -= 1
        self.closed += 1

    def report(self, ff: Any, mode: str) -> dict[str, Any]:
        # (the kernel updates VmHWM lazily: it can lag a VmRSS read earlier)
        self.rss["peak"] = max(peak_rss(), *(v for v in self.rss.values() if v is not None))
        times = self.times
        return {
            "role": "server",
            "core": ff.IMPLEMENTATION,
            "mode": mode,
            "accepted": self.accepted,
            "peak_live": self.peak_live,
            "frames_in": self.frames_in,
            "bytes_each_way": self.bytes_in,
            "clean_eofs": self.clean_eofs,
            "accept_seconds": times["go"] - times["first_accept"],
            "exchange_seconds": times["all_done"] - times["go"],
            "rss": self.rss,
            "socket_buffers": self.buffers,
        }


class ServedConnection:
    """One connection of the ``selectors`` server."""

    __slots__ = ("fs", "stream", "finished")

    def __init__(self, fs: Any) -> None:
        self.fs = fs
        self.stream = Stream()
        self.finished = False  # the client has shut down its side


def serve_selectors(ff: Any, listener: socket.socket, server: Server, deadline: float) -> None:
    """One thread, ``selectors``, non-blocking FramedSockets: echo as replies."""
    framer = ff.LengthPrefixed(4)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listener")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")
    served: list[ServedConnection] = []

    def interest(c: ServedConnection, key_events: int) -> None:
        wanted = selectors.EVENT_WRITE if c.fs.wants_write else 0
        if not c.finished and c.fs.pending_output < HIGH_WATER:
            wanted |= selectors.EVENT_READ
        if wanted != key_events:
            selector.modify(c.fs, wanted, c)

    def accept() -> None:
        for _ in range(256):  # what the backlog holds, a batch at a time
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # EMFILE, ENFILE: raise_fd_limit should have made room
                raise LoadError(f"accepting connection {server.accepted + 1}: {exc!r}") from None
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server.connected(sock)
            c = ServedConnection(ff.FramedSocket(sock, framer))
            served.append(c)
            selector.register(c.fs, selectors.EVENT_READ, c)
            if server.all_accepted():
                selector.unregister(listener)
                for each in served:
                    each.fs.send(GO)
                    interest(each, selectors.EVENT_READ)
                return

    def serve(c: ServedConnection, events: int) -> None:
        fs = c.fs
        try:
            if events & selectors.EVENT_READ:
                was_done = c.stream.done
                replies = server.answer(c.stream, fs.recv_many())
                if replies:
                    fs.send_many(replies)
                if c.stream.done and not was_done and server.one_done():
                    for each in served:
                        each.fs.send(BYE)
                        interest(each, selector.get_key(each.fs).events)
            if events & selectors.EVENT_WRITE:
                fs.flush()
        except ff.ConnectionClosed as exc:
            server.ended(not isinstance(exc, ff.IncompleteFrame), c.stream.conn)
            c.finished = True
        except OSError as exc:  # a client that failed resets its connections
            raise LoadError(f"conn {c.stream.conn}: {exc!r}") from None
        if c.finished and not fs.wants_write:
            selector.unregister(fs)
            fs.close()
            return
        interest(c, selector.get_key(fs).events)

    try:
        while server.closed < server.total:
            ready = selector.select(max(remaining(deadline), 0))
            if not ready and remaining(deadline) <= 0:
                raise LoadError(f"deadline passed: {progress(server)}")
            for key, events in ready:
                if key.data == "listener":
                    accept()
                elif key.data == "parent":
                    raise LoadError("the parent process is gone")
                else:
                    serve(key.data, events)
    finally:
        for c in served:
            c.fs.close()
        selector.close()


def serve_aio(ff: Any, listener: socket.socket, server: Server, deadline: float, backlog: int) -> None:
    """``fastframe.aio.start_server``: one task per connection, echoing as replies."""
    asyncio.run(serve_aio_until_done(ff, listener, server, deadline, backlog))


async def serve_aio_until_done(ff: Any, listener: socket.socket, server: Server, deadline: float, backlog: int) -> None:
    framer = ff.LengthPrefixed(4)
    writers: list[Any] = []
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()  # every connection served, or the failure

    def fail(exc: BaseException) -> None:
        if not finished.done():
            finished.set_exception(exc)

    async def handle(reader: Any, writer: Any) -> None:
        try:
            sock = writer.get_extra_info("socket")
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server.connected(sock)
            writers.append(writer)
            if server.all_accepted():
                for each in writers:
                    each.send(GO)
            stream = Stream()
            while True:
                try:
                    frames = await reader.recv_many()
                except ff.ConnectionClosed as exc:
                    server.ended(not isinstance(exc, ff.IncompleteFrame), stream.conn)
                    break
                was_done = stream.done
                replies = server.answer(stream, frames)
                if replies:
                    writer.send_many(replies)
                if stream.done and not was_done and server.one_done():
                    for each in writers:
                        each.send(BYE)
                await writer.drain()
            writer.close()
            if server.closed == server.total and not finished.done():
                finished.set_result(None)
        except Exception as exc:  # noqa: BLE001 - the run's failure, raised by the server's main task
            fail(exc)

    loop.add_reader(sys.stdin.fileno(), fail, LoadError("the parent process is gone"))
    start = ff.aio.start_unix_server if listener.family == socket.AF_UNIX else ff.aio.start_server
    aio_server = await start(handle, framer=framer, sock=listener, backlog=backlog)
    try:
        await asyncio.wait_for(finished, max(remaining(deadline), 0))
    except asyncio.TimeoutError:
        raise LoadError(f"deadline passed: {progress(server)}") from None
    finally:
        loop.remove_reader(sys.stdin.fileno())
        aio_server.close()
        for writer in writers:
            writer.abort()


def progress(server: Server) -> str:
    return (
        f"{server.accepted}/{server.total} accepted, {server.live} live, {server.done} done, "
        f"{server.clean_eofs} clean EOFs, {server.frames_in} frames in"
    )


def listen(args: argparse.Namespace, backlog: int) -> socket.socket:
    if args.unix:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(args.address)
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    listener.setblocking(False)
    return listener


def run_server(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit(args.connections + FD_MARGIN)
    ff = check_core(args.core)
    if args.server == "aio":
        import fastframe.aio  # noqa: F401 - before the baseline RSS, as the selectors server's imports are
    server = Server(args)
    backlog = args.connections  # the kernel caps it at net.core.somaxconn
    listener = listen(args, backlog)
    print(json.dumps({"address": listener.getsockname()}), flush=True)
    try:
        if args.server == "aio":
            serve_aio(ff, listener, server, args.deadline, backlog)
        else:
            serve_selectors(ff, listener, server, args.deadline)
    finally:
        listener.close()
    return {**server.report(ff, args.server), "somaxconn": somaxconn()}


def somaxconn() -> int | None:
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except OSError:
        return None


# -- a client ----------------------------------------------------------------------------


class ClientConnection:
    """One of a client's connections, and how far it has gone."""

    __slots__ = ("conn", "fs", "next_seq", "unanswered", "replies", "stage")

    def __init__(self, conn: int, fs: Any) -> None:
        self.conn = conn
        self.fs = fs
        self.next_seq = 0
        self.unanswered: collections.deque[bytes] = collections.deque()
        self.replies = 0
        self.stage = "go?"  # then "exchange", "done", "bye" (half-closed), "closed"


class Client:
    """One client process's connections, driven by one ``selectors`` loop."""

    def __init__(self, ff: Any, args: argparse.Namespace) -> None:
        self.ff = ff
        self.frames = args.frames
        self.window = args.window
        self.selector = selectors.DefaultSelector()
        self.connections: list[ClientConnection] = []
        self.finished = 0
        self.frames_sent = self.bytes_sent = self.verified = self.clean_eofs = self.largest = 0

    def connect(self, args: argparse.Namespace) -> None:
        """Open every connection (blocking connects: an AF_UNIX connect waits while
        the server's backlog is full rather than failing), then go non-blocking."""
        framer = self.ff.LengthPrefixed(4)
        family = socket.AF_UNIX if args.unix else socket.AF_INET
        address = args.address if args.unix else tuple(args.address)
        for conn in range(args.first, args.first + args.count):
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError as exc:  # EMFILE, ENFILE: raise_fd_limit should have made room
                raise LoadError(f"conn {conn}: socket: {exc!r}") from None
            try:
                sock.settimeout(max(remaining(args.deadline), 0.001))
                sock.connect(address)
                sock.setblocking(False)
                if family != socket.AF_UNIX:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as exc:
                sock.close()
                raise LoadError(f"conn {conn}: connect: {exc!r}") from None
            c = ClientConnection(conn, self.ff.FramedSocket(sock, framer))
            self.connections.append(c)
            self.selector.register(c.fs, selectors.EVENT_READ, c)

    def top_up(self, c: ClientConnection) -> None:
        """Send frames until WINDOW are unanswered or all N are sent."""
        batch = []
        while c.next_seq < self.frames and len(c.unanswered) < self.window:
            frame = payload(c.conn, c.next_seq, self.frames)
            c.unanswered.append(frame)
            batch.append(frame)
            c.next_seq += 1
            self.bytes_sent += len(frame)
            self.largest = max(self.largest, len(frame))
        if batch:
            c.fs.send_many(batch)
            self.frames_sent += len(batch)

    def received(self, c: ClientConnection, frames: list[bytes]) -> None:
        for frame in frames:
            if c.stage == "exchange" and c.unanswered:
                problem = reply_problem(c.unanswered.popleft(), frame)
                if problem:
                    raise LoadError(f"conn {c.conn}: {problem}")
                c.replies += 1
                self.verified += 1
                if c.replies == self.frames:
                    c.fs.send(DONE)
                    c.stage = "done"
                else:
                    self.top_up(c)
            elif c.stage == "go?" and frame == GO:
                c.stage = "exchange"
                self.top_up(c)
            elif c.stage == "done" and frame == BYE:
                c.fs.shutdown_write()  # (nothing is queued: the server has had our D)
                c.stage = "bye"
            else:
                raise LoadError(f"conn {c.conn} at stage {c.stage!r} got {describe(frame)}")

    def serve(self, c: ClientConnection, events: int) -> None:
        fs = c.fs
        try:
            if events & selectors.EVENT_READ:
                self.received(c, fs.recv_many())
            if events & selectors.EVENT_WRITE:
                fs.flush()
        except OSError as exc:  # (ConnectionClosed is an EOFError)
            raise LoadError(f"conn {c.conn} at stage {c.stage!r}: {exc!r}") from None
        except self.ff.ConnectionClosed as exc:
            if c.stage != "bye" or isinstance(exc, self.ff.IncompleteFrame):
                raise LoadError(f"conn {c.conn} at stage {c.stage!r}: the server closed: {exc!r}") from None
            self.clean_eofs += 1
            self.selector.unregister(fs)
            fs.close()
            c.stage = "closed"
            self.finished += 1
            return
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if fs.wants_write else 0)
        if wanted != self.selector.get_key(fs).events:
            self.selector.modify(fs, wanted, c)

    def run(self, deadline: float) -> None:
        self.selector.register(sys.stdin, selectors.EVENT_READ, None)
        while self.finished < len(self.connections):
            ready = self.selector.select(max(remaining(deadline), 0))
            if not ready and remaining(deadline) <= 0:
                stages = collections.Counter(c.stage for c in self.connections)
                raise LoadError(f"deadline passed, connections by stage: {dict(stages)}")
            for key, events in ready:
                if key.data is None:
                    raise LoadError("the parent process is gone")
                self.serve(key.data, events)

    def close(self) -> None:
        for c in self.connections:
            c.fs.close()
        self.selector.close()


def run_client(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit(args.count + FD_MARGIN)
    ff = check_core(args.core)
    client = Client(ff, args)
    role = f"client {args.first}..{args.first + args.count - 1}"
    connect_seconds = 0.0
    try:
        started = time.time()
        client.connect(args)
        connect_seconds = time.time() - started
        say(role, f"{args.count} connections open in {connect_seconds:.2f} s")
        client.run(args.deadline)
    finally:
        client.close()
    return {
        "role": "client",
        "core": ff.IMPLEMENTATION,
        "connections": args.count,
        "connect_seconds": connect_seconds,
        "frames_sent": client.frames_sent,
        "bytes_sent": client.bytes_sent,
        "replies_verified": client.verified,
        "largest_frame": client.largest,
        "clean_eofs": client.clean_eofs,
        "rss_peak": peak_rss(),
    }


# -- the parent --------------------------------------------------------------------------


class Children:
    """The server and client processes: started with a pipe on stdin (closing it
    tells them the parent is gone), killed if still running at the end."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "FASTFRAME_PURE_PYTHON": "1" if args.core == "python" else "0"}

    def start(self, role: str, *extra: str) -> subprocess.Popen[bytes]:
        a = self.args
        command = [sys.executable, os.path.abspath(__file__), "--role", role, "--core", a.core]
        command += ["--connections", str(a.connections), "--frames", str(a.frames), "--window", str(a.window)]
        command += ["--server", a.server, "--deadline", repr(a.deadline), *(["--unix"] if a.unix else []), *extra]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env)
        self.procs.append(proc)
        return proc

    def first_line(self, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            if not selector.select(max(remaining(self.args.deadline), 0)):
                raise LoadError("the server did not start listening before the deadline")
        line = proc.stdout.readline()
        if not line:
            raise LoadError(f"the server exited with status {proc.wait()} before listening")
        return json.loads(line)  # type: ignore[no-any-return]

    def wait(self) -> None:
        """Until every child has exited: a failure or the deadline ends the others."""
        while True:
            status = [proc.poll() for proc in self.procs]
            failed = [f"{self.name(i)} (status {code})" for i, code in enumerate(status) if code not in (None, 0)]
            if failed:  # (its own message is on stderr, above)
                raise LoadError("exited with a failure: " + ", ".join(failed))
            if None not in status:
                return
            if remaining(self.args.deadline) <= -5:  # the children stop themselves at the deadline
                raise LoadError("deadline passed: children killed")
            time.sleep(0.05)

    def name(self, i: int) -> str:
        return "the server" if i == 0 else f"client process {i}"

    def results(self) -> list[dict[str, Any]]:
        """Each child's last line of output: its report."""
        out = []
        for proc in self.procs:
            assert proc.stdout is not None
            lines = proc.stdout.read().splitlines()
            out.append(json.loads(lines[-1]))
        return out

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit(args.connections + FD_MARGIN)  # the server's need; the children inherit the limits
    started = time.time()
    args.deadline = started + args.timeout
    children = Children(args)
    workdir = tempfile.mkdtemp(prefix="fastframe-load-") if args.unix else None
    try:
        extra = ["--address", os.path.join(workdir, "server.sock")] if workdir else []
        server = children.start("server", *extra)
        address = children.first_line(server)["address"]  # a path, or [host, port]
        address = [address] if isinstance(address, str) else address
        share, rest = divmod(args.connections, args.clients)
        first = 0
        for i in range(args.clients):
            count = share + (i < rest)
            children.start("client", "--first", str(first), "--count", str(count), "--address", *map(str, address))
            first += count
        children.wait()
        results = children.results()
    finally:
        children.kill()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return summarize(args, results[0], results[1:], time.time() - started)


def summarize(
    args: argparse.Namespace, server: dict[str, Any], clients: list[dict[str, Any]], wall: float
) -> dict[str, Any]:
    n = args.connections
    each_way = n * args.frames
    up, down = server["frames_in"], sum(c["replies_verified"] for c in clients)
    rss = server["rss"]
    base = rss["baseline"]
    per_connection = {
        stage: None if rss.get(stage) is None or base is None else (rss[stage] - base) / n
        for stage in ("idle", "active", "peak")
    }
    largest = max(c["largest_frame"] for c in clients)
    checks = {
        "every connection live at once (server peak)": server["peak_live"] == n,
        "every data frame sent (clients)": sum(c["frames_sent"] for c in clients) == each_way,
        "every data frame received, in order (server)": up == each_way,
        "every reply received and verified, in order (clients)": down == each_way,
        "every connection ended with a clean EOF (server)": server["clean_eofs"] == n,
        "every connection ended with a clean EOF (clients)": sum(c["clean_eofs"] for c in clients) == n,
        "every process ran the requested core": {server["core"], *(c["core"] for c in clients)} == {args.core},
        "a frame larger than the socket receive buffer": largest > server["socket_buffers"]["rcvbuf"],
    }
    return {
        "ok": all(checks.values()),
        "failed_checks": [name for name, ok in checks.items() if not ok],
        "core": args.core,
        "server_mode": args.server,
        "transport": "unix" if args.unix else "tcp",
        "connections": n,
        "frames_per_connection": args.frames,
        "frames_client_to_server": up,
        "frames_server_to_client": down,
        "frames_total": up + down,
        "control_frames": 3 * n,  # G, D and B: not counted above
        "bytes_each_way": server["bytes_each_way"],
        "largest_frame": largest,
        "exchange_seconds": server["exchange_seconds"],
        "frames_per_second": (up + down) / server["exchange_seconds"],
        "wall_seconds": wall,
        "server_rss_per_connection": per_connection,
        "server": server,
        "clients": clients,
    }


def mib(size: float | None) -> str:
    return "n/a" if size is None else f"{size / 2**20:.1f} MiB"


def kib(size: float | None) -> str:
    return "n/a" if size is None else f"{size / 1024:.1f} KiB"


def print_summary(r: dict[str, Any]) -> None:
    s, rss, per = r["server"], r["server"]["rss"], r["server_rss_per_connection"]
    lines = [
        f"{r['connections']} connections, {r['frames_per_connection']} frames each way per connection, "
        f"{r['server_mode']} server, {r['core']} core, {r['transport']}",
        f"  live at once (server peak): {s['peak_live']}, accepted in {s['accept_seconds']:.2f} s "
        f"(somaxconn {s['somaxconn']})",
        f"  frames: {r['frames_client_to_server']} client->server, {r['frames_server_to_client']} server->client, "
        f"{r['frames_total']} total "
        f"(+ {r['control_frames']} control); {r['bytes_each_way']} bytes each way, largest frame {r['largest_frame']} "
        f"(socket buffers: rcvbuf {s['socket_buffers']['rcvbuf']}, sndbuf {s['socket_buffers']['sndbuf']})",
        f"  exchange (server: go to the last done): {r['exchange_seconds']:.3f} s -> "
        f"{r['frames_per_second']:.0f} frames/s (both ways); "
        f"wall {r['wall_seconds']:.2f} s",
        f"  server RSS: baseline {mib(rss['baseline'])}, all idle {mib(rss['idle'])}, "
        f"all done {mib(rss['active'])}, peak {mib(rss['peak'])}",
        f"  server RSS per connection over baseline: idle {kib(per['idle'])}, done {kib(per['active'])}, "
        f"peak {kib(per['peak'])}",
        "  client peak RSS: " + ", ".join(mib(c["rss_peak"]) for c in r["clients"]),
        "OK: no frame lost, reordered or corrupted; every connection ended with a clean EOF"
        if r["ok"]
        else "FAILED: " + "; ".join(r["failed_checks"]),
    ]
    print("\n".join(lines))


# -- the command ------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    import fastframe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--frames", type=int, default=20, help="data frames per connection, each way")
    parser.add_argument("--server", choices=["selectors", "aio"], default="selectors")
    parser.add_argument("--core", choices=["cython", "python"], default=fastframe.IMPLEMENTATION)
    parser.add_argument("--unix", action="store_true", help="AF_UNIX sockets rather than TCP on 127.0.0.1")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--window", type=int, default=WINDOW, help="unanswered frames per connection")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the whole run")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    # how the parent starts its children
    parser.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--address", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.connections, args.frames, args.clients, args.window) < 1 or args.clients > args.connections:
        parser.error("--connections, --frames, --clients and --window must be at least 1, --clients <= --connections")
    if args.address and not args.unix:
        args.address = [args.address[0], int(args.address[1])]
    elif args.address:
        args.address = args.address[0]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    role = args.role or ""
    if args.role == "client":
        role = f"client {args.first}..{args.first + args.count - 1}"
    children: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {"server": run_server, "client": run_client}
    try:
        if args.role:
            print(json.dumps(children[args.role](args)), flush=True)
            return 0
        report = orchestrate(args)
    except LoadError as exc:
        if args.role is None and args.json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        say(role, f"FAILED: {exc}")
        return EXIT_FD_LIMIT if isinstance(exc, FdLimitError) else EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(report))
    else:
        print_summary(report)
    return 0 if report["ok"] else EXIT_FAILED


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
