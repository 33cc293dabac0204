"""A Redis client on fastframe: RESP2 requests out, replies parsed from the stream.

RESP2 (https://redis.io/docs/latest/develop/reference/protocol-spec/) is not one
framing: every reply starts with a line (a type byte, then text, then CRLF), and a
bulk string's line gives the length of the exact number of bytes that follow it,
then one more CRLF.  So the parser reads over FramedSocket's raw reads, on the same
buffer: recv_until(b"\\r\\n") for each line, recv_exactly(n) for each bulk body.

Run it:  redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no
         python examples/recipes/redis.py --port 6379 --key greeting --value hello
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import Union

import fastframe as ff

# FramedSocket needs a framer.  Replies are read with raw reads only (below), so this
# one only says what a reply's first line is: bytes up to CRLF, without it.
FRAMER = ff.Delimited(b"\r\n")

# A reply's line (`+OK`, `-ERR ...`, `:42`, `$5`, `*3`) is short, but an error line
# carries the server's message, which may quote what it was sent: 64 KiB bounds
# it without refusing any real one.  recv_until raises FrameTooLarge past it.
MAX_LINE = 64 * 1024

# A bulk string's body is read by recv_exactly(n), whose only bound is n itself,
# which comes from the server.  Redis refuses values over 512 MiB (its
# proto-max-bulk-len), so a longer length is a broken stream, not a value.
MAX_BULK = 512 * 1024 * 1024

CRLF = b"\r\n"

# What a reply becomes: +simple -> str, :integer -> int, $bulk -> bytes, nil -> None,
# *array -> list (nested), -error -> a RedisError *object* inside an array or a
# pipeline's results (command() raises it instead).
Reply = Union[str, int, bytes, None, "RedisError", list["Reply"]]
Arg = bytes | bytearray | memoryview | str | int | float


class RedisError(Exception):
    """An error reply (`-ERR ...`, `-WRONGTYPE ...`): its text is the server's message.
    The connection is still in step: the next command's reply comes next."""


class ProtocolError(Exception):
    """The stream is not RESP2: the connection cannot be used any more."""


def encode(*args: Arg) -> bytes:
    """One request: an array of bulk strings, `*N\\r\\n` then `$len\\r\\nbytes\\r\\n` each."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, (int, float)):
            data = repr(arg).encode()  # Redis reads numbers as their decimal text
        else:
            data = bytes(arg)
        parts += (b"$%d\r\n" % len(data), data, CRLF)
    return b"".join(parts)


def read_reply(fs: ff.FramedSocket) -> Reply:
    """One reply, read from the stream: arrays recursively, errors as RedisError objects."""
    line = fs.recv_until(CRLF, max_size=MAX_LINE)  # the line, without its CRLF
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        length = int(rest)
        if length == -1:
            return None  # the nil bulk string: GET of a missing key
        if not 0 <= length <= MAX_BULK:
            raise ProtocolError(f"bulk string length {length} out of range")
        body = fs.recv_exactly(length)  # straight into one bytes object, any size
        if fs.recv_exactly(2) != CRLF:  # two reads: no copy of the body to cut CRLF off
            raise ProtocolError("bulk string not followed by CRLF")
        return body
    if kind == b"*":
        count = int(rest)
        if count == -1:
            return None  # the nil array: BLPOP timing out
        if count < 0:
            raise ProtocolError(f"array length {count} out of range")
        return [read_reply(fs) for _ in range(count)]
    raise ProtocolError(f"unknown reply type {line[:40]!r}")


def command(fs: ff.FramedSocket, *args: Arg) -> Reply:
    """Send one command, return its reply; an error reply is raised as RedisError."""
    fs.sendall(encode(*args))
    reply = read_reply(fs)
    if isinstance(reply, RedisError):
        raise reply
    return reply


def pipeline(fs: ff.FramedSocket, commands: Iterable[Sequence[Arg]]) -> list[Reply]:
    """Send every command in ONE send, then read as many replies, in order.  An error
    reply does not stop the others: it is returned in its place as a RedisError."""
    requests = [encode(*args) for args in commands]
    fs.sendall(b"".join(requests))  # one buffer, one call: the server sees them together
    return [read_reply(fs) for _ in requests]


def main() -> None:
    parser = argparse.ArgumentParser(description="SET a key, GET it back, print it.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--password", help="sent with AUTH first, if the server needs one")
    parser.add_argument("--key", default="fastframe:greeting")
    parser.add_argument("--value", default="hello from fastframe")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds, for every call")
    args = parser.parse_args()

    with ff.connect((args.host, args.port), FRAMER, timeout=args.timeout) as fs:
        if args.password is not None:
            command(fs, "AUTH", args.password)
        print("PING ->", command(fs, "PING"))
        print("SET  ->", command(fs, "SET", args.key, args.value))
        value = command(fs, "GET", args.key)  # bytes: Redis keeps values as bytes
        print("GET  ->", value.decode(errors="replace") if isinstance(value, bytes) else value)


if __name__ == "__main__":
    main()
