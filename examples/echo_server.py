"""A multi-client echo server: one thread, `selectors`, non-blocking FramedSockets.

The Socket Programming HOWTO's select() loop, with the hard parts done by fastframe:
``recv_many()`` returns only whole frames (``[]`` when none is complete yet), and
``send_many()`` never blocks: what the kernel does not take is queued, and the loop
asks for EVENT_WRITE only while ``wants_write`` says something is queued.

Run it:  python examples/echo_server.py --port 9000      (Ctrl-C stops it)
Then:    python examples/echo_client.py --port 9000
It prints the address it listens on ("host port", or the socket path) on the
first line; --port 0 (the default) picks a free port.
"""

import argparse
import os
import selectors
import socket
import sys

import fastframe as ff

FRAMINGS = {"length": ff.LengthPrefixed(4), "lines": ff.Lines(), "netstring": ff.Netstring()}
HIGH_WATER = 1 << 20  # stop reading from a client while this many of its echo bytes wait


def listen(args: argparse.Namespace) -> tuple[socket.socket, str]:
    """A non-blocking listening socket, and its address as the first output line."""
    if args.unix:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(args.unix)
        listener.listen()
        address = args.unix
    else:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        listener = socket.create_server((args.host, args.port), family=family)
        host, port = listener.getsockname()[:2]
        address = f"{host} {port}"
    listener.setblocking(False)
    return listener, address


def serve(listener: socket.socket, framer: ff.Framer, max_clients: int | None) -> int:
    """Echo every frame back to its sender; return how many clients came and went."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    finished = 0
    try:
        while max_clients is None or finished < max_clients:
            for key, events in selector.select():
                if key.fileobj is listener:
                    accept(selector, listener, framer)
                elif not echo(selector, key, events):
                    finished += 1
    finally:
        for key in list(selector.get_map().values()):
            if isinstance(key.fileobj, ff.FramedSocket):
                key.fileobj.close()
        selector.close()
    return finished


def accept(selector: selectors.BaseSelector, listener: socket.socket, framer: ff.Framer) -> None:
    try:
        conn, _ = listener.accept()
    except (BlockingIOError, ConnectionError):
        return  # the client gave up before we got to it
    conn.setblocking(False)  # accept() hands back a blocking socket
    # key.data says whether the client has finished sending (shut down its side).
    selector.register(ff.FramedSocket(conn, framer), selectors.EVENT_READ, data=False)


def echo(selector: selectors.BaseSelector, key: selectors.SelectorKey, events: int) -> bool:
    """Serve one ready client; False once it is gone (and closed)."""
    fs, done_sending, gone = key.fileobj, key.data, False
    assert isinstance(fs, ff.FramedSocket)  # every key but the listener's is a client's
    try:
        if events & selectors.EVENT_READ:
            frames = fs.recv_many()  # every complete frame; [] if none yet
            if frames:
                fs.send_many(frames)  # sends what it can, queues the rest
        if events & selectors.EVENT_WRITE:
            fs.flush()
    except ff.ConnectionClosed as error:
        # The client shut down its sending side (the HOWTO's shutdown(1)) or closed:
        # echo whatever is still queued, then close.
        if isinstance(error, ff.IncompleteFrame):
            print(f"client stopped inside a frame: {error}", file=sys.stderr)
        done_sending = True
    except (ff.FastframeError, ConnectionError) as error:
        # Bytes that break the framing, or a client that vanished (reset, broken pipe).
        print(f"client dropped: {error!r}", file=sys.stderr)
        gone = True
    if gone or (done_sending and not fs.wants_write):
        selector.unregister(fs)
        fs.close()  # closes the socket: the client sees EOF
        return False
    wanted = selectors.EVENT_WRITE if fs.wants_write else 0
    if not done_sending and fs.pending_output < HIGH_WATER:
        wanted |= selectors.EVENT_READ
    if (wanted, done_sending) != (key.events, key.data):
        selector.modify(fs, wanted, data=done_sending)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): pick a free port")
    parser.add_argument("--unix", metavar="PATH", help="listen on a Unix socket instead")
    parser.add_argument("--framing", choices=FRAMINGS, default="length")
    parser.add_argument("--max-clients", type=int, metavar="N", help="exit once N clients have left")
    args = parser.parse_args()
    if args.unix and not hasattr(socket, "AF_UNIX"):
        parser.error("--unix: this platform has no Unix sockets")

    listener, address = listen(args)
    try:
        print(address, flush=True)  # clients may connect now
        served = serve(listener, FRAMINGS[args.framing], args.max_clients)
        print(f"echo server done, clients served: {served}", flush=True)
    except KeyboardInterrupt:
        print("echo server stopped", flush=True)
    finally:
        listener.close()
        if args.unix:
            os.unlink(args.unix)


if __name__ == "__main__":
    main()
