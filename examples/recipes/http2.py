"""An HTTP/2 client in cleartext with prior knowledge (RFC 9113): one GET.

Every HTTP/2 frame is a 9-byte header (a 3-byte payload length, a type, flags, a
31-bit stream id) and its payload.  fastframe cuts the frames; this module does
the rest: the connection preface, SETTINGS and their acknowledgements, the
request's HEADERS, the response's HEADERS, CONTINUATION and DATA frames, flow
control (WINDOW_UPDATE), PING, RST_STREAM and GOAWAY.  Header blocks are HPACK
(RFC 7541), which is not framing: the hpack package does it (pip install hpack).

Run it:  nghttpd --no-tls --address=127.0.0.1 -d /var/www/html 8080      (in another terminal)
         python examples/recipes/http2.py --port 8080 --path /index.html
"""

import argparse
import contextlib
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field

import hpack

import fastframe as ff

# The largest frame payload we accept: SETTINGS_MAX_FRAME_SIZE, whose initial
# value is 16 384 (RFC 9113, 6.5.2).  We never announce a larger one.
MAX_FRAME_SIZE = 16_384

# On the wire:  [length: 3][type: 1][flags: 1][R + stream id: 4][payload: length bytes]
# width=3:       the length field is 3 bytes, big-endian (the default byte order).
# adjustment=6:  the length counts the payload only; after the field come the 6
#                bytes of type, flags and stream id too, so the body is length + 6.
# strip:         the default (offset + width = 3) drops the length field, which
#                len(frame) says again.  A frame is then type, flags, stream id and
#                payload, and encode() takes exactly that: sending and receiving
#                handle the same bytes (encode writes length = len(frame) - 6).
# max_size:      measured on that frame: 6 bytes + the largest payload we accept.
#                A larger frame raises FrameTooLarge before anything is allocated,
#                and read_frame() answers it with a FRAME_SIZE_ERROR GOAWAY.
FRAMER = ff.LengthPrefixed(3, adjustment=6, max_size=6 + MAX_FRAME_SIZE)

# the client's first 24 bytes, not a frame: sent raw, with sendall()
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types (RFC 9113, 6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
# flags
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20
# settings (6.5.2)
SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
# error codes (7)
ERRORS = [  # by code
    "NO_ERROR",  # 0x0
    "PROTOCOL_ERROR",  # 0x1
    "INTERNAL_ERROR",  # 0x2
    "FLOW_CONTROL_ERROR",  # 0x3
    "SETTINGS_TIMEOUT",  # 0x4
    "STREAM_CLOSED",  # 0x5
    "FRAME_SIZE_ERROR",  # 0x6
    "REFUSED_STREAM",  # 0x7
    "CANCEL",  # 0x8
    "COMPRESSION_ERROR",  # 0x9
    "CONNECT_ERROR",  # 0xa
    "ENHANCE_YOUR_CALM",  # 0xb
    "INADEQUATE_SECURITY",  # 0xc
    "HTTP_1_1_REQUIRED",  # 0xd
]
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, COMPRESSION_ERROR = 0x0, 0x1, 0x3, 0x6, 0x9

# frames whose payload has a fixed size (6.4, 6.7, 6.9); another size is FRAME_SIZE_ERROR
SIZES = {PRIORITY: 5, RST_STREAM: 4, PING: 8, WINDOW_UPDATE: 4}

# every flow-control window starts at 65 535 bytes (6.9.2); we keep ours there and
# give the server credit back once half of a window is used
WINDOW = 65_535


class HTTP2Error(Exception):
    """The connection or a stream ended with an HTTP/2 error code (``.code``)."""

    def __init__(self, what: str, code: int, detail: str = "") -> None:
        self.code = code
        name = ERRORS[code] if code < len(ERRORS) else f"error 0x{code:x}"
        super().__init__(f"{what}: {name}" + (f": {detail}" if detail else ""))


class GoAway(HTTP2Error):
    """The server closed the connection with GOAWAY; ``.debug`` is its message."""

    def __init__(self, last_stream_id: int, code: int, debug: bytes) -> None:
        self.last_stream_id = last_stream_id  # the last of our streams it processed
        self.debug = debug
        super().__init__("the server closed the connection", code, debug.decode(errors="replace"))


class StreamReset(HTTP2Error):
    """The server reset our stream with RST_STREAM."""


class ConnectionFailed(HTTP2Error):
    """The server broke the protocol: we sent GOAWAY with ``.code`` and gave up."""


@dataclass
class Connection:
    """One HTTP/2 connection over a FramedSocket that uses FRAMER."""

    fs: ff.FramedSocket
    encoder: hpack.Encoder = field(default_factory=hpack.Encoder)
    decoder: hpack.Decoder = field(default_factory=hpack.Decoder)
    server_settings: dict[int, int] = field(default_factory=dict)
    peer_max_frame_size: int = MAX_FRAME_SIZE  # what the server accepts from us
    window: int = WINDOW  # what the server may still send on the connection
    next_stream_id: int = 1  # a client's streams are odd
    open_stream: int = 0  # the stream get() waits on, if any
    settings_acked: bool = False  # the server acknowledged our SETTINGS
    server_settings_acked: int = 0  # the server's SETTINGS frames we acknowledged
    # what went by, for whoever wants to know (the tests do): frames by type
    sent: Counter[int] = field(default_factory=Counter)
    received: Counter[int] = field(default_factory=Counter)
    padded: int = 0  # frames received with padding


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    trailers: list[tuple[str, str]] = field(default_factory=list)


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """A frame as FRAMER sends and receives it: all but the length field."""
    return struct.pack("!BBL", kind, flags, stream_id) + payload


def send(conn: Connection, *frames: bytes) -> None:
    """frame()s, in one write."""
    conn.fs.send_many(frames)
    conn.sent.update(data[0] for data in frames)


def fail(conn: Connection, code: int, detail: str) -> ConnectionFailed:
    """A connection error (5.4.1): tell the server with GOAWAY, then raise what this returns."""
    # the last stream the server opened that we processed: it opens none (no push)
    with contextlib.suppress(OSError):
        send(conn, frame(GOAWAY, 0, 0, struct.pack("!LL", 0, code) + detail.encode()[:256]))
    return ConnectionFailed("we closed the connection", code, detail)


def read_frame(conn: Connection) -> tuple[int, int, int, bytes]:
    """The next frame, whatever it is: (type, flags, stream id, payload)."""
    try:
        data = conn.fs.recv()
    except ff.FrameTooLarge as error:
        # Its payload is error.size - 6 bytes.  fastframe would skip it and go on,
        # but we cannot know what it was (it may have changed the connection's state),
        # so it is a connection error (4.2).
        raise fail(conn, FRAME_SIZE_ERROR, f"a {error.size - 6}-byte payload, over {MAX_FRAME_SIZE}") from None
    kind, flags, stream_id = struct.unpack_from("!BBL", data)
    payload = data[6:]
    conn.received[kind] += 1
    if len(payload) != SIZES.get(kind, len(payload)) or kind == GOAWAY and len(payload) < 8:
        raise fail(conn, FRAME_SIZE_ERROR, f"a frame of type {kind} with a {len(payload)}-byte payload")
    return kind, flags, stream_id & 0x7FFF_FFFF, payload  # the reserved bit is ignored


def receive(conn: Connection) -> tuple[int, int, int, bytes] | None:
    """The next frame; a frame about the connection is handled here and gives None."""
    kind, flags, stream_id, payload = read_frame(conn)
    if not conn.server_settings_acked and not (kind == SETTINGS and not flags & ACK):
        raise fail(conn, PROTOCOL_ERROR, "the server's preface must start with SETTINGS")
    if kind == SETTINGS:
        if flags & ACK:
            conn.settings_acked = True
        else:
            apply_settings(conn, payload)
            send(conn, frame(SETTINGS, ACK, 0))
            conn.server_settings_acked += 1
    elif kind == PING:
        if not flags & ACK:
            send(conn, frame(PING, ACK, 0, payload))  # the same 8 bytes back
    elif kind == GOAWAY:
        last_stream_id, code = struct.unpack_from("!LL", payload)
        last_stream_id &= 0x7FFF_FFFF
        # a graceful shutdown that still finishes our stream lets it finish (6.8)
        if code != NO_ERROR or not 0 < conn.open_stream <= last_stream_id:
            raise GoAway(last_stream_id, code, payload[8:])
    elif kind in (WINDOW_UPDATE, PRIORITY) or kind > CONTINUATION:
        pass  # credit for sending DATA, which we never send; advice; unknown types are ignored (5.5)
    else:
        return kind, flags, stream_id, payload
    return None


def apply_settings(conn: Connection, payload: bytes) -> None:
    if len(payload) % 6:
        raise fail(conn, FRAME_SIZE_ERROR, "a SETTINGS payload is 6-byte entries")
    for identifier, value in struct.iter_unpack("!HL", payload):
        conn.server_settings[identifier] = value
        if identifier == SETTINGS_HEADER_TABLE_SIZE:
            conn.encoder.header_table_size = value  # the table our encoder may use
        elif identifier == SETTINGS_MAX_FRAME_SIZE:
            if not MAX_FRAME_SIZE <= value < 2**24:
                raise fail(conn, PROTOCOL_ERROR, f"SETTINGS_MAX_FRAME_SIZE {value}")
            conn.peer_max_frame_size = value  # bounds what we send, not what we receive


def handshake(fs: ff.FramedSocket) -> Connection:
    """Send the connection preface, and return once the SETTINGS of both sides
    have been exchanged and acknowledged."""
    conn = Connection(fs)
    sock = fs.socket
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # HTTP/2 is small control frames both ways: without this, one sent while
        # another is not yet acknowledged waits for the peer's delayed ACK (40 ms)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    settings = {SETTINGS_ENABLE_PUSH: 0, SETTINGS_MAX_FRAME_SIZE: MAX_FRAME_SIZE}
    entries = b"".join(struct.pack("!HL", *entry) for entry in settings.items())
    # the preface is not a frame: raw bytes, then our SETTINGS frame, in one write
    fs.sendall(PREFACE + FRAMER.encode(frame(SETTINGS, 0, 0, entries)))
    conn.sent[SETTINGS] += 1
    while not (conn.server_settings_acked and conn.settings_acked):
        if receive(conn) is not None:
            raise fail(conn, PROTOCOL_ERROR, "a stream frame before any stream was opened")
    return conn


def unpad(conn: Connection, flags: int, payload: bytes) -> bytes:
    """A DATA or HEADERS payload without its padding (6.1): [pad length: 1][content][padding]."""
    if not flags & PADDED:
        return payload
    conn.padded += 1
    if not payload or payload[0] >= len(payload):
        raise fail(conn, PROTOCOL_ERROR, "padding as long as the frame")
    return payload[1 : len(payload) - payload[0]]


def header_block(conn: Connection, flags: int, stream_id: int, payload: bytes) -> list[tuple[str, str]]:
    """The headers of a HEADERS frame and the CONTINUATION frames after it."""
    fragment = unpad(conn, flags, payload)
    if flags & PRIORITY_FLAG:
        fragment = fragment[5:]  # stream dependency and weight, deprecated: skipped
    fragments = [fragment]
    while not flags & END_HEADERS:
        kind, flags, continued, payload = read_frame(conn)  # nothing else may come between (6.10)
        if kind != CONTINUATION or continued != stream_id:
            raise fail(conn, PROTOCOL_ERROR, "a header block cut by another frame")
        fragments.append(payload)
    try:  # every block is decoded: the decoder's table must follow the server's
        return [(str(name), str(value)) for name, value in conn.decoder.decode(b"".join(fragments))]
    except hpack.HPACKError as error:
        raise fail(conn, COMPRESSION_ERROR, str(error)) from None


def send_header_block(conn: Connection, stream_id: int, block: bytes, flags: int) -> None:
    """HEADERS, and CONTINUATION frames if the block is longer than the server's frames."""
    size = conn.peer_max_frame_size
    pieces = [block[i : i + size] for i in range(0, len(block), size)] or [b""]
    frames = []
    for i, piece in enumerate(pieces):
        kind, piece_flags = (CONTINUATION, 0) if i else (HEADERS, flags)  # END_STREAM: on HEADERS
        if i == len(pieces) - 1:
            piece_flags |= END_HEADERS
        frames.append(frame(kind, piece_flags, stream_id, piece))
    send(conn, *frames)  # together: no other frame may come between them


def get(conn: Connection, path: str, authority: str, scheme: str = "http") -> Response:
    """GET ``path``: one stream, from the request's HEADERS to the END_STREAM flag."""
    stream_id = conn.open_stream = conn.next_stream_id
    conn.next_stream_id += 2
    request = [(":method", "GET"), (":scheme", scheme), (":path", path), (":authority", authority)]
    send_header_block(conn, stream_id, conn.encoder.encode(request), END_STREAM)
    window = WINDOW  # what the server may still send on this stream
    response: Response | None = None
    body = []
    while True:
        received = receive(conn)
        if received is None:
            continue
        kind, flags, sid, payload = received
        if sid != stream_id:
            raise fail(conn, PROTOCOL_ERROR, f"a frame of type {kind} on stream {sid}, which we did not open")
        if kind == HEADERS:
            headers = header_block(conn, flags, stream_id, payload)
            if response is not None:
                response.trailers = headers  # after the body: trailers
            elif not headers or headers[0][0] != ":status":
                raise fail(conn, PROTOCOL_ERROR, "a response without :status first")
            elif not headers[0][1].startswith("1"):  # 1xx: informational, the real one follows
                response = Response(int(headers[0][1]), headers[1:])
        elif kind == DATA:
            if response is None:
                raise fail(conn, PROTOCOL_ERROR, "DATA before the response's HEADERS")
            # the whole payload counts against both windows, padding included (6.9.1)
            conn.window -= len(payload)
            window -= len(payload)
            if conn.window < 0 or window < 0:
                raise fail(conn, FLOW_CONTROL_ERROR, "DATA beyond the window")
            body.append(unpad(conn, flags, payload))
            # Give the credit back once half of a window is used: the connection's
            # (stream 0) and, until it ends, the stream's, in one write.
            updates = []
            if conn.window <= WINDOW // 2:
                updates.append(frame(WINDOW_UPDATE, 0, 0, struct.pack("!L", WINDOW - conn.window)))
                conn.window = WINDOW
            if window <= WINDOW // 2 and not flags & END_STREAM:
                updates.append(frame(WINDOW_UPDATE, 0, stream_id, struct.pack("!L", WINDOW - window)))
                window = WINDOW
            if updates:
                send(conn, *updates)
        elif kind == RST_STREAM:
            (code,) = struct.unpack("!L", payload)
            raise StreamReset(f"the server reset stream {stream_id}", code)
        elif kind == PUSH_PROMISE:
            raise fail(conn, PROTOCOL_ERROR, "PUSH_PROMISE, though we disabled push")
        else:  # CONTINUATION outside a header block
            raise fail(conn, PROTOCOL_ERROR, f"a frame of type {kind} out of place")
        if kind in (HEADERS, DATA) and flags & END_STREAM:
            if response is None:
                raise fail(conn, PROTOCOL_ERROR, "the stream ended without a response")
            response.body = b"".join(body)
            conn.open_stream = 0
            return response


def close(conn: Connection) -> None:
    """GOAWAY (NO_ERROR), then wait for the server to close, then close."""
    send(conn, frame(GOAWAY, 0, 0, struct.pack("!LL", 0, NO_ERROR)))
    conn.fs.shutdown_write()
    with contextlib.suppress(ff.ConnectionClosed, OSError):  # TimeoutError too
        for _ in conn.fs:  # what the server sent meanwhile is of no use now
            pass
    conn.fs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    args = parser.parse_args()

    with ff.connect((args.host, args.port), FRAMER, timeout=args.timeout) as fs:
        conn = handshake(fs)
        response = get(conn, args.path, f"{args.host}:{args.port}")
        close(conn)
    print(f"status {response.status}, {len(response.body)} bytes, {conn.sent[WINDOW_UPDATE]} WINDOW_UPDATE frames sent")


if __name__ == "__main__":
    main()
