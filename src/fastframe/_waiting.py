"""Waiting for a socket with poll() (select() on Windows), to a deadline that a
whole call shares: the twin's FramedSocket and the compiled core's path through
the socket object wait here."""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

from ._messages import closed, timed_out

HAS_POLL = hasattr(select, "poll")


class Call:
    """What one call reads from the socket before its first system call, so
    that each call (in each thread) has its own deadline."""

    __slots__ = ("sock", "fd", "timeout", "deadline", "waits_first")

    def __init__(self, sock: Any, io_waits: bool = True) -> None:
        """``sock``: a socket, or a TLS transport of fastframe._tls (``io_waits``
        False: its methods never wait, and may have bytes to give while the
        socket is not readable)."""
        fd = sock.fileno()
        if fd < 0:
            raise closed()
        self.sock = sock
        self.fd = fd
        self.timeout = sock.gettimeout()
        self.deadline = 0.0 if not self.timeout else time.monotonic() + self.timeout
        # A socket method waits up to the socket's whole timeout, not what is
        # left of the call's: with a timeout, the call waits first itself.
        self.waits_first = bool(self.timeout) and io_waits

    def wait(self, writing: bool) -> bool:
        """Wait until the socket is ready, per its timeout mode: False if it is
        non-blocking; TimeoutError past the deadline."""
        if self.timeout == 0.0:
            return False
        while True:
            # past the deadline, one look without waiting: what is ready is taken,
            # as the descriptor path (and socket.socket) do, trying before waiting
            left = None if self.timeout is None else max(self.deadline - time.monotonic(), 0.0)
            if HAS_POLL:
                poller = select.poll()
                poller.register(self.fd, select.POLLOUT if writing else select.POLLIN)
                # left None: blocking; 0.0: the one look past the deadline
                ready = bool(poller.poll(left * 1000.0 + 1.0 if left else left))
            else:  # Windows
                fds = [self.fd]
                readable, writable, _ = select.select([] if writing else fds, fds if writing else [], [], left)
                ready = bool(readable or writable)
            if ready or left is None:
                return True
            if not left:
                raise timed_out()
            # Not ready, and the deadline not passed by the clock: select() can end
            # a little early, and time.monotonic() moves in 15.6 ms steps on Windows
            # before Python 3.13.  Wait again: the socket method called now would
            # wait up to the socket's whole timeout, past the deadline.

    def attempt(self, writing: bool, io: Callable[..., Any], *args: Any) -> Any:
        """``io(*args)``, a socket method, once the socket is ready: blocking,
        within the deadline, or None at once if it is non-blocking and not ready.
        (The method itself would wait up to the socket's timeout on each call,
        not up to what is left of this call's.)  A signal handler that raises
        as the method returns loses its result: the twin sends without blocking
        for that reason, and the compiled core calls the methods itself."""
        while True:
            if self.waits_first:
                self.wait(writing)
            try:
                return io(*args)
            except BlockingIOError:
                if not self.wait(writing):
                    return None


