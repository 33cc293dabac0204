"""The Socket Programming HOWTO's message patterns, each on fastframe.

The HOWTO (https://docs.python.org/3/howto/sockets.html) says a stream socket has
no end of message: messages "must either be fixed length (yuck), or be delimited
(shrug), or indicate how long they are (much better), or end by shutting down the
connection".  It adds two refinements: a length given as 5 numeric characters, and
a first byte that says the message's type, which decides its length.  Each pattern
is a pair of functions here, a sender and a receiver, over a FramedSocket; every
receive returns a whole message however the bytes arrive.

Run it:  python examples/recipes/socket_howto.py     (a server thread on 127.0.0.1)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import fastframe as ff

# -- fixed length: the HOWTO's MSGLEN --------------------------------------------------
MSGLEN = 64
FIXED = ff.FixedSize(MSGLEN)


def send_fixed(fs: ff.FramedSocket, message: bytes) -> None:
    if len(message) > MSGLEN:
        raise ValueError(f"a message is {MSGLEN} bytes at most, got {len(message)}")
    fs.send(message.ljust(MSGLEN, b"\0"))  # FixedSize.encode refuses any other size


def recv_fixed(fs: ff.FramedSocket) -> bytes:
    return fs.recv().rstrip(b"\0")


# -- delimited: a message ends at a newline --------------------------------------------
LINES = ff.Lines(max_size=64 * 1024)  # a peer that never sends b"\n" costs 64 KiB at most


def send_line(fs: ff.FramedSocket, message: bytes) -> None:
    fs.send(message)  # Lines appends b"\n" and refuses a message that holds one


def recv_line(fs: ff.FramedSocket) -> bytes:
    return fs.recv()


# -- a length first: 5 numeric characters, as the HOWTO suggests ------------------------
DIGITS = 5


def send_counted(fs: ff.FramedSocket, message: bytes) -> None:
    if len(message) >= 10**DIGITS:
        raise ValueError(f"{DIGITS} digits say at most {10**DIGITS - 1} bytes, got {len(message)}")
    fs.sendall(b"%05d" % len(message) + message)


def recv_counted(fs: ff.FramedSocket) -> bytes:
    # "you may not get all 5 characters in one recv": recv_exactly waits for them
    digits = fs.recv_exactly(DIGITS)
    if not digits.isdigit():
        raise ff.ProtocolError(f"expected {DIGITS} digits, got {digits!r}")
    return fs.recv_exactly(int(digits))


# -- a length first, in binary: what the HOWTO's htonl is for ---------------------------
LENGTH = ff.LengthPrefixed(4)  # 4 bytes, network byte order, then the message


def send_prefixed(fs: ff.FramedSocket, message: bytes) -> None:
    fs.send(message)


def recv_prefixed(fs: ff.FramedSocket) -> bytes:
    return fs.recv()


# -- the first byte is the type, and the type decides the length ------------------------
SIZES = {b"P": 0, b"T": 8, b"N": 32}  # ping; a timestamp; a name, zero-padded


def send_typed(fs: ff.FramedSocket, kind: bytes, body: bytes) -> None:
    if len(body) != SIZES[kind]:
        raise ValueError(f"a {kind!r} message is {SIZES[kind]} bytes, got {len(body)}")
    fs.sendall(kind + body)


def recv_typed(fs: ff.FramedSocket) -> tuple[bytes, bytes]:
    kind = fs.recv_exactly(1)
    if kind not in SIZES:
        raise ff.ProtocolError(f"unknown message type {kind!r}")
    return kind, fs.recv_exactly(SIZES[kind])


# -- the first byte is the type, then a length: the frame keeps the type ----------------
TAGGED = ff.LengthPrefixed(2, offset=1, strip=0)  # [type][2-byte length][body]


def send_tagged(fs: ff.FramedSocket, kind: bytes, body: bytes) -> None:
    fs.send(body, head=kind)


def recv_tagged(fs: ff.FramedSocket) -> tuple[bytes, bytes]:
    frame = fs.recv()
    return frame[:1], frame[3:]


# -- the message ends when the sender shuts down its side -------------------------------
def send_then_shutdown(fs: ff.FramedSocket, message: bytes) -> None:
    fs.sendall(message)
    fs.shutdown_write()  # "done sending, still listening": the reply can still come


def recv_until_shutdown(fs: ff.FramedSocket) -> bytes:
    return fs.recv_until_eof(max_size=1024 * 1024)  # bounded: a peer that never stops


# -- one exchange of each pattern: the client asks, the server answers -------------------
def ask_fixed(fs: ff.FramedSocket) -> bytes:
    send_fixed(fs, b"hello")
    return recv_fixed(fs)


def answer_fixed(fs: ff.FramedSocket) -> None:
    send_fixed(fs, recv_fixed(fs).upper())


def ask_line(fs: ff.FramedSocket) -> bytes:
    send_line(fs, b"hello")
    return recv_line(fs)


def answer_line(fs: ff.FramedSocket) -> None:
    send_line(fs, recv_line(fs).upper())


def ask_counted(fs: ff.FramedSocket) -> bytes:
    send_counted(fs, b"hello")
    return recv_counted(fs)


def answer_counted(fs: ff.FramedSocket) -> None:
    send_counted(fs, recv_counted(fs).upper())


def ask_prefixed(fs: ff.FramedSocket) -> bytes:
    send_prefixed(fs, b"hello")
    return recv_prefixed(fs)


def answer_prefixed(fs: ff.FramedSocket) -> None:
    send_prefixed(fs, recv_prefixed(fs).upper())


def ask_typed(fs: ff.FramedSocket) -> tuple[bytes, bytes]:
    send_typed(fs, b"T", b"12345678")
    return recv_typed(fs)


def answer_typed(fs: ff.FramedSocket) -> None:
    kind, body = recv_typed(fs)
    send_typed(fs, kind, body[::-1])


def ask_tagged(fs: ff.FramedSocket) -> tuple[bytes, bytes]:
    send_tagged(fs, b"M", b"hello")
    return recv_tagged(fs)


def answer_tagged(fs: ff.FramedSocket) -> None:
    kind, body = recv_tagged(fs)
    send_tagged(fs, kind.lower(), body.upper())


def ask_until_shutdown(fs: ff.FramedSocket) -> bytes:
    send_then_shutdown(fs, b"hello")
    return recv_until_shutdown(fs)


def answer_until_shutdown(fs: ff.FramedSocket) -> None:
    send_then_shutdown(fs, recv_until_shutdown(fs).upper())


Side = Callable[[ff.FramedSocket], object]
# name: (the framer of both ends, the client's side, the server's side).  Where only
# raw reads are used, the framer is never asked for a frame: any will do.
PATTERNS: dict[str, tuple[ff.Framer, Side, Side]] = {
    "fixed length": (FIXED, ask_fixed, answer_fixed),
    "delimited": (LINES, ask_line, answer_line),
    "5 digits, then the message": (LINES, ask_counted, answer_counted),
    "binary length": (LENGTH, ask_prefixed, answer_prefixed),
    "type decides the length": (LINES, ask_typed, answer_typed),
    "type, then a length": (TAGGED, ask_tagged, answer_tagged),
    "end by shutdown": (LINES, ask_until_shutdown, answer_until_shutdown),
}


def run(name: str, timeout: float = 10.0) -> object:
    """One exchange of pattern ``name``: a server thread on 127.0.0.1 answers one
    client; returns what the client received."""
    framer, ask, answer = PATTERNS[name]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(timeout)

        def server() -> None:
            conn, _ = listener.accept()
            conn.settimeout(timeout)
            with ff.FramedSocket(conn, framer) as fs:
                answer(fs)

        thread = threading.Thread(target=server)
        thread.start()
        try:
            with ff.connect(listener.getsockname(), framer, timeout=timeout) as fs:
                return ask(fs)
        finally:
            thread.join(timeout)


def main() -> None:
    for name in PATTERNS:
        print(f"{name:27} -> {run(name)!r}")


if __name__ == "__main__":
    main()
