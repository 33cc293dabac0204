"""A MariaDB / MySQL client on fastframe: log in with mysql_native_password, run
text queries (COM_QUERY), read their result sets, disconnect (COM_QUIT).

Every packet of the client/server protocol (https://mariadb.com/kb/en/0-packet/)
is a 4-byte header, then the payload:

    [payload length: 3 bytes, little-endian][sequence id: 1 byte][payload]

A payload of 0xFFFFFF bytes or more travels as packets of 0xFFFFFF bytes and a
last, shorter one (possibly empty), which the receiver joins.  The sequence id
counts the packets of one exchange (the login, or one command and its response)
from 0, both sides taking turns: each side checks it and continues it.

    python examples/recipes/mariadb.py --port 3306 --user fastframe --password ... \
        --database fastframe --query "SELECT seq FROM seq_1_to_5"
"""

import argparse
import hashlib
import os
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import fastframe as ff

MAX_CHUNK = 0xFFFFFF  # the largest payload one packet carries

# The 3-byte length counts the payload only: adjustment=1 adds the sequence byte
# that follows the field, so the frame ends where the packet ends.  strip=3 drops
# the length field and keeps the sequence byte: each frame is `sequence id +
# payload`, and the client checks the sequence.  A full packet is then
# 1 + 0xFFFFFF bytes (16 MiB), which max_size must let through; encode() refuses
# a frame whose payload would not fit the 3-byte field.
PACKETS = ff.LengthPrefixed(3, byteorder="little", adjustment=1, strip=3, max_size=1 + MAX_CHUNK)

# Capability flags (https://mariadb.com/kb/en/connection/#capabilities) this client asks for.
CLIENT_CONNECT_WITH_DB = 1 << 3  # a database name in the handshake response
CLIENT_PROTOCOL_41 = 1 << 9  # 4.1 packets: SQLSTATE in ERR, status and warnings in OK/EOF
CLIENT_SECURE_CONNECTION = 1 << 15  # the auth response has a 1-byte length
CLIENT_PLUGIN_AUTH = 1 << 19  # the plugin is named; the server may ask to switch
# Not asked: CLIENT_DEPRECATE_EOF (1 << 24), so a result set's column definitions
# and rows each end with an EOF packet; CLIENT_LOCAL_FILES, CLIENT_SSL,
# CLIENT_COMPRESS, CLIENT_MULTI_RESULTS, CLIENT_SESSION_TRACK...
REQUIRED = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH

UTF8MB4_GENERAL_CI = 45  # the connection's collation: values come back as UTF-8
BINARY = 63  # the "binary" character set: bytes, not text
MAX_PACKET = 1 << 30  # the largest payload this client accepts (joined), 1 GiB

# The first byte of a response payload.
OK, EOF, ERR = 0x00, 0xFE, 0xFF
NULL = 0xFB  # in a row: the value is NULL (a length-encoded integer's 0xFB)
COM_QUIT, COM_QUERY = 0x01, 0x03

# Column types (https://mariadb.com/kb/en/result-set-packets/#field-types)
INTEGER_TYPES = {1, 2, 3, 8, 9, 13}  # TINY, SHORT, LONG, LONGLONG, INT24, YEAR
STRING_TYPES = {15, 16, 249, 250, 251, 252, 253, 254}  # VARCHAR, BIT, BLOBs, (VAR_)STRING


class ServerError(Exception):
    """An ERR packet: the server's error code, SQLSTATE and message.  The
    connection stays usable: an ERR ends its command's response."""

    def __init__(self, code: int, sqlstate: str, message: str) -> None:
        super().__init__(f"ERROR {code} ({sqlstate}): {message}")
        self.code, self.sqlstate, self.message = code, sqlstate, message


class ProtocolViolation(Exception):
    """The server broke the protocol: a packet out of sequence, a malformed one."""


class Packets:
    """The packets of one exchange: sequence ids checked and continued, long
    payloads joined on receipt and split on sending."""

    def __init__(self, fs: ff.FramedSocket, max_payload: int = MAX_PACKET) -> None:
        self.fs = fs
        self.sequence = 0  # the id the next packet, either way, must carry
        self.received = 0  # packets received
        self.max_payload = max_payload
        self._frames: deque[bytes] = deque()

    def read(self) -> bytes:
        """The next payload, joined from the packets it took."""
        parts: list[memoryview] = []
        size = 0
        while True:
            if not self._frames:  # every complete frame, waiting for one at least
                self._frames.extend(self.fs.recv_many())
            frame = self._frames.popleft()
            if frame[0] != self.sequence:
                raise ProtocolViolation(f"packet {frame[0]} out of sequence: expected {self.sequence}")
            self.sequence = (self.sequence + 1) % 256
            self.received += 1
            size += len(frame) - 1
            if size > self.max_payload:
                raise ProtocolViolation(f"a payload over {self.max_payload} bytes")
            if len(frame) - 1 < MAX_CHUNK and not parts:
                return frame[1:]  # the common case: one packet
            parts.append(memoryview(frame)[1:])
            if len(frame) - 1 < MAX_CHUNK:  # a short (or empty) packet ends the payload
                return b"".join(parts)

    def write(self, payload: bytes) -> None:
        """Send ``payload``, continuing the sequence, in packets of at most 0xFFFFFF
        bytes; a multiple of 0xFFFFFF (0 included) ends with an empty one."""
        frames = []
        for start in range(0, len(payload) + 1, MAX_CHUNK):
            frames.append(bytes([self.sequence]) + payload[start : start + MAX_CHUNK])
            self.sequence = (self.sequence + 1) % 256
        self.fs.send_many(frames)

    def done(self) -> None:
        """The exchange is over: nothing more may have come."""
        if self._frames:
            raise ProtocolViolation(f"{len(self._frames)} packets after the end of a response")


def lenenc_int(data: bytes, pos: int) -> tuple[int, int]:
    """A length-encoded integer at ``pos``: (its value, the position after it)."""
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}.get(first)
    if size is None:
        raise ProtocolViolation(f"0x{first:02X} does not start a length-encoded integer")
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "little"), pos + 1 + size


def lenenc_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    """A length-encoded string at ``pos``: (its bytes, the position after it)."""
    length, pos = lenenc_int(data, pos)
    return data[pos : pos + length], pos + length


def server_error(payload: bytes) -> ServerError:
    """The exception an ERR packet stands for: 0xFF, code, ["#" SQLSTATE], message."""
    (code,) = struct.unpack_from("<H", payload, 1)
    if payload[3:4] == b"#":  # 4.1; an ERR sent before the handshake has no SQLSTATE
        sqlstate, message = payload[4:9].decode("ascii"), payload[9:]
    else:
        sqlstate, message = "HY000", payload[3:]
    return ServerError(code, sqlstate, message.decode("utf-8", "replace"))


# -- Logging in ------------------------------------------------------------------


@dataclass
class Greeting:
    """The server's initial handshake (protocol 10)."""

    server_version: str
    connection_id: int
    capabilities: int
    auth_plugin: str
    scramble: bytes
    auth_switched: bool = False  # set by login(): the server sent an AuthSwitchRequest


def parse_greeting(payload: bytes) -> Greeting:
    """https://mariadb.com/kb/en/connection/#initial-handshake-packet"""
    if payload[0] == ERR:  # refused before the handshake (too many connections, ...)
        raise server_error(payload)
    if payload[0] != 10:
        raise ProtocolViolation(f"handshake protocol {payload[0]}, expected 10")
    end = payload.index(b"\0", 1)
    # MariaDB puts "5.5.5-" before its version, for old replication clients
    server_version = payload[1:end].decode().removeprefix("5.5.5-")
    pos = end + 1
    connection_id, scramble1, low, _collation, _status, high, data_len = struct.unpack_from("<I8sxHBHHB", payload, pos)
    pos += 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10  # then 6 filler and 4 MariaDB capability bytes
    capabilities = low | high << 16
    if capabilities & REQUIRED != REQUIRED:
        raise ProtocolViolation("the server does not speak protocol 4.1 with authentication plugins")
    size = max(12, data_len - 9)  # the scramble's second part, then a reserved byte
    scramble = scramble1 + payload[pos : pos + size]
    plugin = payload[pos + size + 1 :].split(b"\0", 1)[0].decode()
    return Greeting(server_version, connection_id, capabilities, plugin, scramble)


def native_password(password: str, scramble: bytes) -> bytes:
    """mysql_native_password's answer: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password)))."""
    if not password:
        return b""
    stage1 = hashlib.sha1(password.encode()).digest()
    stage2 = hashlib.sha1(stage1).digest()
    mask = hashlib.sha1(scramble[:20] + stage2).digest()
    return bytes(a ^ b for a, b in zip(stage1, mask))


def login(fs: ff.FramedSocket, user: str, password: str, database: str | None = None) -> Greeting:
    """Read the server's handshake, answer with a HandshakeResponse41 using
    mysql_native_password, follow an AuthSwitchRequest, and return the greeting
    once the server says OK.  A refusal raises ServerError (1045: wrong password)."""
    packets = Packets(fs)
    greeting = parse_greeting(packets.read())  # sequence id 0
    capabilities = REQUIRED | (CLIENT_CONNECT_WITH_DB if database else 0)
    token = native_password(password, greeting.scramble)
    response = struct.pack("<IIB23x", capabilities, MAX_PACKET, UTF8MB4_GENERAL_CI)  # 19 + 4 reserved bytes
    response += user.encode() + b"\0" + bytes([len(token)]) + token
    if database:
        response += database.encode() + b"\0"
    response += b"mysql_native_password\0"
    packets.write(response)  # sequence id 1
    while True:
        reply = packets.read()
        if reply[0] == OK:
            packets.done()
            return greeting
        if reply[0] == ERR:
            raise server_error(reply)
        if reply[0] != EOF:  # 0xFE here is an AuthSwitchRequest: plugin name, its data
            raise ProtocolViolation(f"unexpected packet 0x{reply[0]:02X} during authentication")
        plugin, _, data = reply[1:].partition(b"\0")
        if plugin != b"mysql_native_password":
            raise ProtocolViolation(f"the server asks for {plugin.decode()!r}, which this client does not speak")
        greeting.auth_switched = True
        packets.write(native_password(password, data))  # a new scramble, the sequence goes on


# -- Queries ---------------------------------------------------------------------


@dataclass
class Column:
    name: str
    type: int
    charset: int

    def converter(self) -> Callable[[bytes], object]:
        """Text protocol values are text: integers become int, binary strings
        stay bytes, everything else (decimals, dates, ...) is a str."""
        if self.type in INTEGER_TYPES:
            return int
        if self.charset == BINARY and self.type in STRING_TYPES:
            return bytes
        return bytes.decode  # UTF-8, the connection's character set


@dataclass
class Result:
    columns: list[Column]
    rows: list[tuple[object, ...]]
    affected_rows: int = 0
    last_insert_id: int = 0
    warnings: int = 0
    packets: int = 0  # packets the response took


def parse_column(payload: bytes) -> Column:
    """https://mariadb.com/kb/en/result-set-packets/#column-definition-packet"""
    pos = 0
    names = []
    for _ in range(6):  # catalog, schema, table alias, table, column alias, column
        name, pos = lenenc_bytes(payload, pos)
        names.append(name)
    _fixed, pos = lenenc_int(payload, pos)  # the length of the fixed fields: 0x0C
    charset, _length, type_, _flags, _decimals = struct.unpack_from("<HIBHB", payload, pos)
    return Column(names[4].decode(), type_, charset)


def parse_row(payload: bytes, converters: list[Callable[[bytes], object]]) -> tuple[object, ...]:
    """A text result set row: a length-encoded string per column, 0xFB for NULL."""
    values: list[object] = []
    pos = 0
    for convert in converters:
        if payload[pos] == NULL:
            values.append(None)
            pos += 1
        else:
            raw, pos = lenenc_bytes(payload, pos)
            values.append(convert(raw))
    return tuple(values)


def is_eof(payload: bytes) -> bool:
    # A row may start with 0xFE too (a length-encoded string of 2**24 bytes or
    # more), but it is then far longer than an EOF packet's 5 bytes.
    return payload[0] == EOF and len(payload) < 9


def query(fs: ff.FramedSocket, sql: str) -> Result:
    """Run ``sql`` (COM_QUERY) and return its result: the columns and rows of a
    result set, or what an OK packet says.  An ERR raises ServerError."""
    packets = Packets(fs)
    packets.write(bytes([COM_QUERY]) + sql.encode())
    first = packets.read()
    if first[0] == ERR:
        packets.done()
        raise server_error(first)
    if first[0] == OK:  # no result set: INSERT, CREATE, SET, ...
        affected, pos = lenenc_int(first, 1)
        insert_id, pos = lenenc_int(first, pos)
        _status, warnings = struct.unpack_from("<HH", first, pos)
        packets.done()
        return Result([], [], affected, insert_id, warnings, packets.received)
    count, _ = lenenc_int(first, 0)  # a result set: the number of columns
    columns = [parse_column(packets.read()) for _ in range(count)]
    if not is_eof(packets.read()):
        raise ProtocolViolation("no EOF packet after the column definitions")
    converters = [column.converter() for column in columns]
    rows = []
    while not is_eof(payload := packets.read()):
        if payload[0] == ERR:  # the query failed part-way
            packets.done()
            raise server_error(payload)
        rows.append(parse_row(payload, converters))
    (warnings,) = struct.unpack_from("<H", payload, 1)
    packets.done()
    return Result(columns, rows, warnings=warnings, packets=packets.received)


def disconnect(fs: ff.FramedSocket) -> None:
    """COM_QUIT: the server closes the connection without a reply."""
    Packets(fs).write(bytes([COM_QUIT]))
    try:
        fs.recv()
    except ff.ConnectionClosed:
        return
    raise ProtocolViolation("the server answered COM_QUIT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--user", default=os.environ.get("USER", "root"))
    parser.add_argument("--password", default=os.environ.get("MYSQL_PWD", ""), help="default: $MYSQL_PWD")
    parser.add_argument("--database")
    parser.add_argument("--query", default="SELECT VERSION(), CURRENT_USER()")
    args = parser.parse_args()

    with ff.connect((args.host, args.port), PACKETS, timeout=30.0) as fs:
        greeting = login(fs, args.user, args.password, args.database)
        print(f"connected to {greeting.server_version}, connection id {greeting.connection_id}")
        try:
            result = query(fs, args.query)
        except ServerError as error:
            raise SystemExit(str(error)) from None
        if result.columns:
            print("\t".join(column.name for column in result.columns))
            for row in result.rows:
                print("\t".join("NULL" if value is None else str(value) for value in row))
            print(f"{len(result.rows)} rows in {result.packets} packets")
        else:
            print(f"OK, {result.affected_rows} rows affected")
        disconnect(fs)


if __name__ == "__main__":
    main()
