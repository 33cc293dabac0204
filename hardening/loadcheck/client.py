"""A client process: its share of the connections in one ``selectors`` loop, each
keeping WINDOW frames unanswered and checking that every reply is its own frame,
complete, in order."""

from __future__ import annotations

import argparse
import collections
import selectors
import socket
import sys
import time
from typing import Any

from .frames import BYE, DONE, GO, describe, payload, reply_problem
from .processes import FD_MARGIN, LoadError, check_core, peak_rss, raise_fd_limit, remaining, say

WINDOW = 4  # frames a client connection has sent and not yet had answered


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
