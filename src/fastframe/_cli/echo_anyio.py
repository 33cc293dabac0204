"""``echo-server`` and ``echo-client`` with ``--loop trio``: ``fastframe.anyio``'s
``FramedStream`` on anyio's trio backend, in the clear or over anyio's
``TLSStream``.  The options, the output and the exit statuses are
``fastframe._cli.echo``'s; so is every helper that is not about the loop.

anyio and trio are imported by the functions here, and this module by
``echo.run`` only when ``--loop trio`` asks for it.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, SocketStream
from anyio.streams.tls import TLSAttribute, TLSStream

from ..anyio import FramedStream
from ..errors import FastframeError, IncompleteFrame
from ..framers import Framer
from .echo import (
    BATCH_BYTES,
    DEFAULT_HOST,
    _address,
    _broken,
    _check,
    _fail,
    _Failure,
    _failure,
    _reason,
    _remove_socket,
    _report,
    _take_echoes,
)

if TYPE_CHECKING:
    import ssl

# Seconds a connection gets to close in good order (over TLS, close_notify both
# ways) before it is closed at once: a peer that never answers cannot hold it.
CLOSE_SECONDS = 5.0


def run(main: Callable[..., Awaitable[int]], *args: Any) -> int:
    """``main(*args)`` on anyio's trio backend; its exit status."""
    return anyio.run(main, *args, backend="trio")


def _lost(exc: anyio.BrokenResourceError | OSError) -> str:
    """Why a connection failed: the socket's or TLS's error beneath anyio's (or
    beneath anyio.connect_tcp's "All connection attempts failed", when one
    address was tried)."""
    cause: BaseException | None = exc
    if isinstance(exc, anyio.BrokenResourceError) or (
        isinstance(exc, OSError) and exc.errno is None and isinstance(exc.__cause__, OSError)
    ):
        cause = exc.__cause__
    if isinstance(cause, OSError):
        return _reason(cause)
    return "the connection broke"


async def _close(stream: anyio.abc.AsyncResource) -> None:
    """Close in good order, within CLOSE_SECONDS; at once if that fails."""
    with anyio.move_on_after(CLOSE_SECONDS):
        with contextlib.suppress(anyio.BrokenResourceError, OSError):
            await stream.aclose()
            return
    await anyio.aclose_forcefully(stream)


# -- echo-server -------------------------------------------------------------------


async def serve(args: argparse.Namespace, framer: Framer, context: ssl.SSLContext | None) -> int:
    # A shell starts background jobs with SIGINT ignored; Python leaves it so, and
    # so do we (trio's own Ctrl-C handling leaves an ignored SIGINT alone too).
    signals = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN]
    numbers = itertools.count(1)

    async def serve_client(stream: ByteStream) -> None:
        if context is not None:
            try:
                stream = await TLSStream.wrap(stream, server_side=True, ssl_context=context)
            except (anyio.BrokenResourceError, anyio.EndOfStream, OSError):
                # a client whose handshake fails is dropped without a word (nor a number)
                await anyio.aclose_forcefully(stream)
                return
        name = _client_name(next(numbers), stream)
        framed = FramedStream(stream, framer)
        try:
            await _echo(framed, name)
        finally:
            await _close(framed)

    host = DEFAULT_HOST if args.host is None else args.host
    where = args.unix if args.unix is not None else _address(host, args.port)
    # Signals are caught before the line that says the server listens: a test may
    # send one as soon as it reads that line.
    listener: Listener[SocketStream]
    with anyio.open_signal_receiver(*signals) as received:
        try:
            if args.unix is not None:
                listener = await anyio.create_unix_listener(args.unix)
                inode = os.stat(args.unix).st_ino
                print(f"listening on unix {args.unix}", flush=True)
            else:
                # One address only: with --port 0, each address would get a port of its own.
                *_, sockaddr = (
                    await anyio.getaddrinfo(
                        host, args.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
                    )
                )[0]
                listener = await anyio.create_tcp_listener(local_host=str(sockaddr[0]), local_port=args.port)
                bound = listener.extra(SocketAttribute.local_address)
                assert isinstance(bound, tuple)
                print(f"listening on {bound[0]} {bound[1]}", flush=True)
        except OSError as exc:
            return _fail(3, f"cannot listen on {where}: {_reason(exc)}")
        async with listener, anyio.create_task_group() as clients:
            clients.start_soon(listener.serve, serve_client)
            async for _ in received:
                break
            # Cancelling the clients closes their connections (serve_client's finally).
            clients.cancel_scope.cancel()
    if args.unix is not None:
        _remove_socket(args.unix, inode)
    return 0


def _client_name(number: int, stream: ByteStream) -> str:
    peer = stream.extra(SocketAttribute.remote_address, None)
    return f"client {number}" + (f" ({_address(*peer[:2])})" if isinstance(peer, tuple) else "")


async def _echo(stream: FramedStream, name: str) -> None:
    """Echo one client's frames until it closes; drop it on bad input."""
    try:
        while True:
            frames = await stream.receive_many()
            try:
                # awaited: backpressure, read no more while the client does not read
                await stream.send_many(frames)
            except ValueError:
                # A frame that cannot be sent back (Lines: one ending with \r): echo
                # the frames before it (send_many checked them all and sent none);
                # send() raises again at it.
                for frame in frames:
                    await stream.send(frame)
    except (IncompleteFrame, ValueError) as exc:  # FrameTooLarge and ProtocolError are ValueErrors
        print(f"{name}: {type(exc).__name__}: {exc}; closed", file=sys.stderr)
    except anyio.EndOfStream:  # a clean EOF
        pass
    except (anyio.BrokenResourceError, OSError) as exc:
        print(f"{name}: connection lost: {_lost(exc)}; closed", file=sys.stderr)


# -- echo-client -------------------------------------------------------------------


async def client(
    args: argparse.Namespace,
    framer: Framer,
    payload: Callable[[int], bytes],
    context: ssl.SSLContext | None,
) -> int:
    deadline = anyio.current_time() + args.timeout if args.timeout else math.inf
    host = DEFAULT_HOST if args.host is None else args.host
    where = args.unix if args.unix is not None else _address(host, args.port)
    stream: ByteStream | None = None
    with anyio.move_on_after(deadline - anyio.current_time()):
        try:
            stream = await _connect(args, host, context)
        except (anyio.BrokenResourceError, anyio.EndOfStream):
            # TLS: the server hung up inside the handshake
            return _fail(3, f"cannot connect to {where}: the server hung up during the TLS handshake")
        except OSError as exc:
            return _fail(3, f"cannot connect to {where}: {_lost(exc)}")
    if stream is None:
        return _fail(3, f"cannot connect to {where}: timed out after {args.timeout:g} s")
    framed = FramedStream(stream, framer)
    tls_version = framed.extra(TLSAttribute.tls_version, None)

    latencies: list[int] = []  # ns, one per echo checked
    failure: str | None = None  # None: timed out
    framing_suspect = False
    elapsed = None
    with anyio.move_on_after(deadline - anyio.current_time()):
        try:
            elapsed = await _exchange(framed, args.mode, payload, args.count, latencies, context is None)
        except anyio.EndOfStream:
            failure, framing_suspect = "the server closed the connection", True
        except (anyio.BrokenResourceError, OSError) as exc:
            failure, framing_suspect = f"connection lost: {_lost(exc)}", False
        except (_Failure, FastframeError) as exc:
            failure, framing_suspect = _failure(exc), True
        else:
            await _close(framed)
    if elapsed is None:
        await anyio.aclose_forcefully(framed)  # a broken exchange: no point closing in order
        if failure is None:  # no echo at all: the server may wait for the end of a frame
            failure, framing_suspect = f"timed out after {args.timeout:g} s", not latencies
        return _broken(args, failure, len(latencies), framing_suspect)
    print(_report(args, len(payload(0)), "trio", tls_version, elapsed, latencies))
    return 0


async def _connect(args: argparse.Namespace, host: str, context: ssl.SSLContext | None) -> ByteStream:
    stream: ByteStream
    if args.unix is not None:
        stream = await anyio.connect_unix(args.unix)
    else:
        stream = await anyio.connect_tcp(host, args.port)
    if context is not None:
        try:
            stream = await TLSStream.wrap(
                stream, hostname=args.server_hostname or host, ssl_context=context
            )
        except BaseException:
            await anyio.aclose_forcefully(stream)
            raise
    return stream


async def _exchange(
    stream: FramedStream,
    mode: str,
    payload: Callable[[int], bytes],
    count: int,
    latencies: list[int],
    half_close: bool,
) -> int:
    """Send ``count`` messages, check their echoes, half-close and expect a clean
    EOF (``half_close``: not over TLS, where anyio cannot half-close); the time
    the messages took, in ns."""
    start = time.perf_counter_ns()
    if mode == "pipeline":
        await _pipeline(stream, payload, count, latencies)
    else:
        await _pingpong(stream, payload, count, latencies)
    elapsed = time.perf_counter_ns() - start
    if not half_close:
        return elapsed
    await stream.send_eof()
    try:
        extra = await stream.receive()
    except anyio.EndOfStream:
        return elapsed
    raise _Failure(f"a frame after the last echo: {extra[:32]!r}")


async def _pingpong(
    stream: FramedStream, payload: Callable[[int], bytes], count: int, latencies: list[int]
) -> None:
    for number in range(count):
        sent = payload(number)
        start = time.perf_counter_ns()
        await stream.send(sent)
        echo = await stream.receive()
        end = time.perf_counter_ns()
        _check(number, sent, echo)
        latencies.append(end - start)


async def _pipeline(
    stream: FramedStream, payload: Callable[[int], bytes], count: int, latencies: list[int]
) -> None:
    in_flight: collections.deque[tuple[bytes, int]] = collections.deque()  # (payload, sent at)
    batch = max(1, BATCH_BYTES // max(1, len(payload(0))))
    # The first error of either side; kept here, not left to the task group,
    # which would raise it inside an ExceptionGroup.
    errors: list[Exception] = []

    async def send() -> None:
        try:
            for first in range(0, count, batch):
                payloads = [payload(n) for n in range(first, min(first + batch, count))]
                now = time.perf_counter_ns()
                in_flight.extend((p, now) for p in payloads)
                await stream.send_many(payloads)
        except Exception as exc:
            errors.append(exc)
            exchange.cancel_scope.cancel()

    async with anyio.create_task_group() as exchange:
        exchange.start_soon(send)
        try:
            while len(latencies) < count:
                _take_echoes(await stream.receive_many(), in_flight, latencies)
        except Exception as exc:
            errors.append(exc)
        exchange.cancel_scope.cancel()  # the sender is done, or has no one to send to
    if errors:
        raise errors[0]
