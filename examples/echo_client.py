"""A client for echo_server.py: sends messages, checks every echo, reports the rate.

--mode pipeline sends the messages in batches (--batch at a time) and reads each
batch's echoes back before sending the next; --mode pingpong sends one message at a
time, waits for its echo, and reports round-trip latency too.  At the end it shuts
down its sending side and reads until the server closes: the HOWTO's shutdown(1),
"I'm not going to send anymore, but I'll still listen".  An echo that differs from what was
sent, or arrives out of order, is an error (exit status 1).

Run it:  python examples/echo_server.py --port 9000      (in another terminal)
         python examples/echo_client.py --port 9000 --mode pingpong
"""

import argparse
import math
import statistics
import sys
import time

import fastframe as ff

FRAMINGS = {"length": ff.LengthPrefixed(4), "lines": ff.Lines(), "netstring": ff.Netstring()}


def message(i: int, size: int) -> bytes:
    """`size` bytes that start with the message number (no newline: Lines can carry it)."""
    stamp = b"%d:" % i
    return (stamp * (size // len(stamp) + 1))[:size]


def pipeline(fs: ff.FramedSocket, messages: list[bytes], batch: int) -> None:
    # Each batch is read back before the next goes out: a client that only sends
    # would leave its echoes piling up, and the server stops reading from it then.
    for start in range(0, len(messages), batch):
        sent = messages[start : start + batch]
        fs.send_many(sent)
        echoed: list[bytes] = []
        while len(echoed) < len(sent):
            echoed += fs.recv_many()  # blocks for at least one frame, never returns []
        check(start, sent, echoed)


def pingpong(fs: ff.FramedSocket, messages: list[bytes]) -> list[float]:
    round_trips = []
    for i, payload in enumerate(messages):
        start = time.perf_counter()
        fs.send(payload)
        echoed = fs.recv()
        round_trips.append(time.perf_counter() - start)
        check(i, [payload], [echoed])
    return round_trips


def check(first: int, sent: list[bytes], echoed: list[bytes]) -> None:
    for i, (want, got) in enumerate(zip(sent, echoed), first):
        if got != want:
            sys.exit(f"mismatch at message {i}: sent {want[:40]!r}..., got {got[:40]!r}...")
    if len(echoed) != len(sent):
        sys.exit(f"expected {len(sent)} echoes from message {first} on, got {len(echoed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int)
    where.add_argument("--unix", metavar="PATH", help="connect to a Unix socket instead")
    parser.add_argument("--framing", choices=FRAMINGS, default="length")
    parser.add_argument("--mode", choices=["pipeline", "pingpong"], default="pipeline")
    parser.add_argument("--count", type=int, default=1000, help="messages to send")
    parser.add_argument("--size", type=int, default=100, help="bytes per message")
    parser.add_argument("--batch", type=int, help="messages per pipeline batch (default: 64 KiB)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    args = parser.parse_args()

    address = args.unix or (args.host, args.port)
    messages = [message(i, args.size) for i in range(args.count)]
    try:
        with ff.connect(address, FRAMINGS[args.framing], timeout=args.timeout) as fs:
            start = time.perf_counter()
            if args.mode == "pipeline":
                pipeline(fs, messages, args.batch or max(1, 65536 // max(1, args.size)))
            else:
                round_trips = sorted(pingpong(fs, messages))
            elapsed = time.perf_counter() - start
            fs.shutdown_write()  # the server sees EOF once it has read everything
            extra = list(fs)  # reads until the server closes (ConnectionClosed ends it)
    except TimeoutError:
        sys.exit(f"no progress for {args.timeout} s (a --batch too big for the buffers?)")
    if extra:
        sys.exit(f"{len(extra)} unexpected frames after the last echo")

    summary = (
        f"{args.mode}: {args.count} messages of {args.size} bytes echoed in {elapsed:.3f} s, "
        f"{args.count / elapsed:,.0f} messages/s"
    )
    if args.mode == "pingpong" and round_trips:
        median = statistics.median(round_trips)
        p99 = round_trips[math.ceil(len(round_trips) * 0.99) - 1]  # nearest rank
        summary += f", round trip median {median * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us"
    print(summary)


if __name__ == "__main__":
    main()
