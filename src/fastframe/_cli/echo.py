"""``echo-server`` and ``echo-client``: a framed echo over TCP or a Unix socket,
on asyncio (or uvloop) with ``fastframe.aio``, or on trio with ``fastframe.anyio``
(``echo_anyio``), in the clear or over TLS.

Their output formats and exit statuses are ``SERVER_EPILOG`` and ``CLIENT_EPILOG``
below, which ``--help`` shows.  asyncio, uvloop, anyio and trio are imported by
``run``: this module is imported for every ``fastframe`` command.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import errno
import importlib
import itertools
import math
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import IMPLEMENTATION, Delimited, FixedSize, Framer
from ..errors import ConnectionClosed, FastframeError, IncompleteFrame
from .framing import add_framing_arguments, framer_from_args, int_type
from .tls import add_tls_arguments, context_from_args, is_ssl_error, ssl_words

if TYPE_CHECKING:
    import ssl

    from ..aio import FramedReader, FramedWriter

SERVER_EPILOG = """\
output:
  stdout: one line once the server accepts connections, the address bound:
    listening on HOST PORT   (TCP; with --port 0 the port the system chose)
    listening on unix PATH   (--unix)
  stderr: one line for each client dropped (bad framing, connection lost).
  SIGINT or SIGTERM stops the server (a SIGINT ignored at start, as in a
  shell script's background job, stays ignored).  A --host name that
  resolves to several addresses listens on the first.  With --tls a client
  whose TLS handshake fails is dropped without a word.

exit status:
  0  stopped by SIGINT or SIGTERM
  2  bad arguments (with a usage message), a --certfile or --keyfile that
     cannot be read or is not a PEM certificate chain and its key included
  3  cannot listen (address in use, unknown host, ...): one line on stderr
"""

CLIENT_EPILOG = """\
output (stdout), latencies in microseconds:
  messages: 1000 of 64 bytes, pingpong, length, asyncio, cython
  time: 0.0613 s
  rate: 16313 messages/s
  latency: p50 55.3 us, p90 71.2 us, p99 140.9 us, max 611.0 us
pingpong latency is each message's round trip; pipeline latency runs from the
moment a message is handed to the transport to the arrival of its echo.
Percentiles are nearest-rank.  Payloads are the message number and a dot,
repeated to --size bytes (digits remapped to avoid a delimiter).  The first
line ends with the event loop and fastframe's IMPLEMENTATION, and with --tls
the TLS version (TLSv1.3).  In the clear the client half-closes after the last
echo and expects the server to close cleanly with nothing more; asyncio's and
anyio's TLS connections cannot half-close, so with --tls it closes
(close_notify) instead.

exit status:
  0  every echo matched, in order, then the server closed cleanly (in the clear)
  1  an echo differed, the connection was lost, the server's framing was bad,
     or --timeout passed: one line on stderr (saying to check that --framing
     matches the server's when its answers suggest another framing)
  2  bad arguments (with a usage message), a --cafile that cannot be read or
     holds no PEM certificate included
  3  cannot connect (refused, unknown host, a failed TLS handshake, ...): one
     line on stderr
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_SIZE = 64
# Pipeline mode hands the transport this many payload bytes at a time.
BATCH_BYTES = 64 * 1024
_STAMP = b"0123456789."


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The options of ``echo-server`` or ``echo-client``."""
    server = name == "echo-server"
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = SERVER_EPILOG if server else CLIENT_EPILOG
    parser.add_argument("--host", help=f"TCP host (default: {DEFAULT_HOST})")
    where = parser.add_mutually_exclusive_group(required=not server)
    where.add_argument(
        "--port",
        type=int_type(0 if server else 1, 65535),
        default=0 if server else None,
        help="TCP port (default: 0, any free port)" if server else "TCP port",
    )
    where.add_argument("--unix", metavar="PATH", help="a Unix socket instead of TCP")
    add_framing_arguments(parser)
    if not server:
        parser.add_argument(
            "-n", "--count", type=int_type(1), default=1000, help="messages (default: 1000)"
        )
        parser.add_argument(
            "--size",
            type=int_type(0),
            metavar="BYTES",
            help=f"payload bytes (default: {DEFAULT_SIZE}; SIZE for fixed:SIZE)",
        )
        parser.add_argument(
            "--mode",
            choices=("pingpong", "pipeline"),
            default="pingpong",
            help="pingpong: one message in flight; pipeline: send all while reading "
            "(default: pingpong)",
        )
        parser.add_argument(
            "--timeout",
            type=_seconds,
            default=60.0,
            metavar="SECONDS",
            help="give up after this long in all (default: 60; 0: never)",
        )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop", "trio"),
        default="asyncio",
        help="event loop: asyncio's default or uvloop (fastframe.aio), or trio "
        "(fastframe.anyio on anyio's trio backend) (default: asyncio)",
    )
    add_tls_arguments(parser, server)
    # Checks that involve several options run in run(), and are usage errors too.
    parser.set_defaults(usage_error=parser.error)


def run(args: argparse.Namespace) -> int:
    """Run ``echo-server`` or ``echo-client``; the exit status."""
    if args.unix is not None and args.host is not None:
        args.usage_error("--host does not go with --unix")
    if args.unix is not None and not hasattr(socket, "AF_UNIX"):
        args.usage_error("--unix: this platform has no Unix sockets (use --port)")
    server = args.command == "echo-server"
    try:
        framer = framer_from_args(args)
        context = context_from_args(args, server)
    except ValueError as exc:
        args.usage_error(str(exc))
    if args.loop == "trio":
        _require_trio(args)
        from . import echo_anyio

        if server:
            return echo_anyio.run(echo_anyio.serve, args, framer, context)
    elif server:
        return _event_loop(args)(_serve(args, framer, context))
    if args.size is not None:
        size = args.size
    else:
        size = framer.size if isinstance(framer, FixedSize) else DEFAULT_SIZE
    payload = _payloads(framer, size)
    try:
        framer.encode(payload(0))
    except ValueError as exc:
        args.usage_error(f"--size {size} does not fit --framing {args.framing}: {exc}")
    if args.loop == "trio":
        return echo_anyio.run(echo_anyio.client, args, framer, payload, context)
    return _event_loop(args)(_client(args, framer, payload, context))


def _require_trio(args: argparse.Namespace) -> None:
    """A usage error unless anyio and trio import (for ``--loop trio``)."""
    for module, install in (("anyio", '"fastframe[anyio]"'), ("trio", "trio")):
        try:
            importlib.import_module(module)
        except ImportError:
            args.usage_error(f"--loop trio: {module} is not installed (pip install {install})")


def _event_loop(args: argparse.Namespace) -> Callable[[Any], int]:
    """``asyncio.run`` or ``uvloop.run``, as ``--loop`` asks."""
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            args.usage_error("--loop uvloop: uvloop is not installed (pip install uvloop)")
        return uvloop.run
    import asyncio

    return asyncio.run


# -- echo-server -------------------------------------------------------------------


async def _serve(args: argparse.Namespace, framer: Framer, context: ssl.SSLContext | None) -> int:
    import asyncio
    import signal

    from .. import aio

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # A shell starts background jobs with SIGINT ignored; Python leaves it so, and so do we.
        if signal.getsignal(signum) is not signal.SIG_IGN:
            # Windows has no loop signal handlers: there Ctrl-C ends the run as KeyboardInterrupt.
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)

    clients: set[asyncio.Task[None]] = set()
    numbers = itertools.count(1)

    async def serve_client(reader: FramedReader, writer: FramedWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        clients.add(task)
        try:
            await _echo(reader, writer, next(numbers))
        finally:
            clients.discard(task)

    host = DEFAULT_HOST if args.host is None else args.host
    where = args.unix if args.unix is not None else _address(host, args.port)
    try:
        if args.unix is not None:
            server = await aio.start_unix_server(serve_client, args.unix, framer, ssl=context)
            inode = os.stat(args.unix).st_ino
            print(f"listening on unix {args.unix}", flush=True)
        else:
            # One address only: with --port 0, each address would get a port of its own.
            family, _, _, _, sockaddr = (
                await loop.getaddrinfo(
                    host, args.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
                )
            )[0]
            server = await aio.start_server(
                serve_client, str(sockaddr[0]), args.port, framer, family=family, ssl=context
            )
            bound = server.sockets[0].getsockname()
            print(f"listening on {bound[0]} {bound[1]}", flush=True)
    except OSError as exc:
        return _fail(3, f"cannot listen on {where}: {_reason(exc)}")

    await stop.wait()
    server.close()
    # Closing their connections ends them; server.wait_closed() waits for that (Python >= 3.12).
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    await server.wait_closed()
    if args.unix is not None:
        _remove_socket(args.unix, inode)
    return 0


async def _echo(reader: FramedReader, writer: FramedWriter, number: int) -> None:
    """Echo one client's frames until it closes; drop it on bad input."""
    peer = writer.get_extra_info("peername")
    name = f"client {number}" + (f" ({_address(*peer[:2])})" if isinstance(peer, tuple) else "")
    try:
        while True:
            frames = await reader.recv_many()
            try:
                writer.send_many(frames)
            except ValueError:
                # A frame that cannot be sent back (Lines: one ending with \r): echo
                # the frames before it; send() raises again at it.
                for frame in frames:
                    writer.send(frame)
            await writer.drain()  # backpressure: read no more while the client does not read
    except (IncompleteFrame, ValueError) as exc:  # FrameTooLarge and ProtocolError are ValueErrors
        print(f"{name}: {type(exc).__name__}: {exc}; closed", file=sys.stderr)
    except ConnectionClosed:  # a clean EOF
        pass
    except OSError as exc:
        print(f"{name}: connection lost: {_reason(exc)}; closed", file=sys.stderr)
    finally:
        writer.close()


def _remove_socket(path: str, inode: int) -> None:
    """Remove the server's socket file, unless another server has replaced it."""
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:  # the loop removed it already (Python >= 3.13)
        pass


# -- echo-client -------------------------------------------------------------------


class _Failure(Exception):
    """The server answered wrongly (the message says how)."""


async def _client(
    args: argparse.Namespace,
    framer: Framer,
    payload: Callable[[int], bytes],
    context: ssl.SSLContext | None,
) -> int:
    import asyncio

    from .. import aio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout if args.timeout else None

    def time_left() -> float | None:
        return None if deadline is None else max(0.0, deadline - loop.time())

    host = DEFAULT_HOST if args.host is None else args.host
    # asyncio refuses server_hostname without ssl
    tls: dict[str, Any] = {}
    if context is not None:
        tls = {"ssl": context, "server_hostname": args.server_hostname or host}
    if args.unix is not None:
        where = args.unix
        connecting = aio.open_unix_connection(args.unix, framer, **tls)
    else:
        where = _address(host, args.port)
        connecting = aio.open_connection(host, args.port, framer, **tls)
    try:
        reader, writer = await asyncio.wait_for(connecting, time_left())
    except asyncio.TimeoutError:
        return _fail(3, f"cannot connect to {where}: timed out after {args.timeout:g} s")
    except OSError as exc:
        reason = _reason(exc)
        if not reason and context is not None:
            # asyncio's word for the end of the stream inside the TLS handshake:
            # a ConnectionResetError with no message
            reason = "the server hung up during the TLS handshake"
        return _fail(3, f"cannot connect to {where}: {reason}")
    tls_object = writer.get_extra_info("ssl_object")
    tls_version = None if tls_object is None else tls_object.version()

    latencies: list[int] = []  # ns, one per echo checked
    exchange = _exchange(reader, writer, args.mode, payload, args.count, latencies)
    try:
        elapsed = await asyncio.wait_for(exchange, time_left())
    except asyncio.TimeoutError:  # before OSError: TimeoutError is one since Python 3.11
        failure = f"timed out after {args.timeout:g} s"
        framing_suspect = not latencies  # no echo at all: the server may wait for the end of a frame
    except (_Failure, FastframeError, OSError) as exc:
        failure = _failure(exc)
        framing_suspect = not isinstance(exc, OSError)
    else:
        writer.close()
        await writer.wait_closed()
        loop_name = type(loop).__module__.partition(".")[0]  # asyncio or uvloop
        print(_report(args, len(payload(0)), loop_name, tls_version, elapsed, latencies))
        return 0
    writer.abort()  # a broken exchange: no point waiting for buffers to drain
    return _broken(args, failure, len(latencies), framing_suspect)


async def _exchange(
    reader: FramedReader,
    writer: FramedWriter,
    mode: str,
    payload: Callable[[int], bytes],
    count: int,
    latencies: list[int],
) -> int:
    """Send ``count`` messages, check their echoes, half-close and expect a clean
    EOF (not over TLS: see CLIENT_EPILOG); the time the messages took, in ns."""
    start = time.perf_counter_ns()
    if mode == "pipeline":
        await _pipeline(reader, writer, payload, count, latencies)
    else:
        await _pingpong(reader, writer, payload, count, latencies)
    elapsed = time.perf_counter_ns() - start
    if not writer.can_write_eof():  # TLS: closing sends close_notify, and stops reading
        return elapsed
    writer.write_eof()
    try:
        extra = await reader.recv()
    except IncompleteFrame:  # not a clean EOF
        raise
    except ConnectionClosed:
        return elapsed
    raise _Failure(f"a frame after the last echo: {extra[:32]!r}")


async def _pingpong(
    reader: FramedReader,
    writer: FramedWriter,
    payload: Callable[[int], bytes],
    count: int,
    latencies: list[int],
) -> None:
    for number in range(count):
        sent = payload(number)
        start = time.perf_counter_ns()
        writer.send(sent)
        await writer.drain()
        echo = await reader.recv()
        end = time.perf_counter_ns()
        _check(number, sent, echo)
        latencies.append(end - start)


async def _pipeline(
    reader: FramedReader,
    writer: FramedWriter,
    payload: Callable[[int], bytes],
    count: int,
    latencies: list[int],
) -> None:
    import asyncio

    in_flight: collections.deque[tuple[bytes, int]] = collections.deque()  # (payload, sent at)
    batch = max(1, BATCH_BYTES // max(1, len(payload(0))))

    async def send() -> None:
        for first in range(0, count, batch):
            payloads = [payload(n) for n in range(first, min(first + batch, count))]
            now = time.perf_counter_ns()
            in_flight.extend((p, now) for p in payloads)
            writer.send_many(payloads)
            await writer.drain()

    async def receive() -> None:
        while len(latencies) < count:
            _take_echoes(await reader.recv_many(), in_flight, latencies)

    tasks = [asyncio.ensure_future(send()), asyncio.ensure_future(receive())]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


def _take_echoes(echoes: list[bytes], in_flight: collections.deque[tuple[bytes, int]], latencies: list[int]) -> None:
    """Match each echo with the oldest message in flight, checked, and keep its
    round-trip time (pipeline mode, on every loop)."""
    now = time.perf_counter_ns()
    for echo in echoes:
        if not in_flight:
            raise _Failure(f"more echoes than messages sent: {echo[:32]!r}")
        sent, start = in_flight.popleft()
        _check(len(latencies), sent, echo)
        latencies.append(now - start)


def _check(number: int, sent: bytes, echo: bytes) -> None:
    if echo != sent:
        raise _Failure(
            f"echo {number} differs: sent {sent[:32]!r} ({len(sent)} bytes), "
            f"got {echo[:32]!r} ({len(echo)} bytes)"
        )


def _broken(args: argparse.Namespace, failure: str, received: int, framing_suspect: bool) -> int:
    """Exit status 1 with one line: what went wrong, how far the exchange got,
    and, when the server's answers (or its closing) suggest it frames otherwise,
    what to check: a server with another --framing closes on the client's first
    message, answers nonsense or waits for a frame's end that never comes."""
    hint = ""
    if framing_suspect:
        hint = (
            "; the server may frame messages otherwise: check that --framing matches the "
            f"server's (this client's is {args.framing}: echo-server --framing {args.framing})"
        )
    return _fail(1, f"{failure} ({received} of {args.count} echoes received){hint}")


def _failure(exc: _Failure | FastframeError | OSError) -> str:
    if isinstance(exc, _Failure):
        return str(exc)
    if isinstance(exc, IncompleteFrame):
        return f"the server closed the connection inside a frame: {exc}"
    if isinstance(exc, ConnectionClosed):
        return "the server closed the connection"
    if isinstance(exc, FastframeError):
        return f"bad framing from the server: {type(exc).__name__}: {exc}"
    return f"connection lost: {_reason(exc)}"


def _report(
    args: argparse.Namespace,
    size: int,
    loop_name: str,
    tls_version: str | None,
    elapsed: int,
    latencies: list[int],
) -> str:
    """The client's report (see CLIENT_EPILOG); times in ns."""
    seconds = elapsed / 1e9
    ordered = sorted(latencies)
    quantiles = [("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)]
    latency = ", ".join(
        f"{name} {_nearest_rank(ordered, q) / 1e3:.1f} us" for name, q in quantiles
    )
    return (
        f"messages: {args.count} of {size} bytes, {args.mode}, {args.framing}, {loop_name}, "
        f"{IMPLEMENTATION}{'' if tls_version is None else ', ' + tls_version}\n"
        f"time: {seconds:.4f} s\n"
        f"rate: {len(latencies) / seconds:.0f} messages/s\n"
        f"latency: {latency}"
    )


def _nearest_rank(ordered: list[int], percent: int) -> int:
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def _payloads(framer: Framer, size: int) -> Callable[[int], bytes]:
    """``payload(n)``: message ``n``, ``size`` bytes that ``framer`` carries as they
    are; consecutive messages differ whenever ``size`` holds the number."""
    digits = _STAMP + b":"
    if isinstance(framer, Delimited):
        # Without the delimiter's first byte a payload cannot hold a delimiter, not
        # even one that starts inside it and ends in the delimiter sent after it.
        digits = digits.replace(framer.delimiter[:1], b"")
    table = bytes.maketrans(_STAMP, digits[: len(_STAMP)])

    def payload(number: int) -> bytes:
        stamp = b"%d." % number
        return (stamp * (size // len(stamp) + 1))[:size].translate(table)

    return payload


# -- shared --------------------------------------------------------------------------


def _fail(status: int, message: str) -> int:
    print(message, file=sys.stderr)
    return status


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# The words Linux and macOS use for what a connection meets most, for Windows,
# whose C library has no text for Winsock's error numbers ("Unknown error").
_SOCKET_ERRORS: tuple[tuple[type[OSError], str], ...] = (
    (ConnectionRefusedError, "Connection refused"),
    (ConnectionResetError, "Connection reset by peer"),
    (ConnectionAbortedError, "Software caused connection abort"),
    (TimeoutError, "Connection timed out"),
)


def _reason(exc: OSError) -> str:
    """What went wrong, in lower case, without the error number (a TLS error:
    "TLS: " and OpenSSL's words)."""
    if is_ssl_error(exc):
        # its errno is OpenSSL's, not the system's: strerror would say nonsense
        return "TLS: " + ssl_words(exc)
    if isinstance(exc, socket.gaierror):
        text = exc.strerror or str(exc)
    elif exc.errno:
        # not exc.strerror: asyncio puts the whole address in it
        text = os.strerror(exc.errno)
        if text.startswith("Unknown error"):
            if exc.errno == errno.EADDRINUSE:
                text = "Address already in use"
            else:
                known = [words for kind, words in _SOCKET_ERRORS if isinstance(exc, kind)]
                text = known[0] if known else exc.strerror or text
    else:
        text = str(exc)
    return text[:1].lower() + text[1:]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value
