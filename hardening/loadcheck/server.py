"""The server process: a ``selectors`` loop over non-blocking FramedSockets, or
``fastframe.aio.start_server``; either way ``Server`` checks that each connection's
frames come in order and counts and measures the run."""

from __future__ import annotations

import argparse
import asyncio
import json
import selectors
import socket
import sys
import time
from typing import Any

from .frames import BYE, DATA, DONE, GO, HEADER, REPLY, describe
from .processes import FD_MARGIN, LoadError, check_core, mib, peak_rss, raise_fd_limit, remaining, say, status_bytes

HIGH_WATER = 1 << 20  # the server stops reading a connection while this much of its echo is queued


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

    def reply(stream: Stream, writer: Any, frames: list[bytes]) -> None:
        was_done = stream.done
        replies = server.answer(stream, frames)
        if replies:
            writer.send_many(replies)
        if stream.done and not was_done and server.one_done():
            for each in writers:
                each.send(BYE)

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
                    # (not kept in a local: the coroutine would hold each batch,
                    # and its replies, until the next one came, where the
                    # selectors server's serve() lets them go as it returns)
                    reply(stream, writer, await reader.recv_many())
                except ff.ConnectionClosed as exc:
                    server.ended(not isinstance(exc, ff.IncompleteFrame), stream.conn)
                    break
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
