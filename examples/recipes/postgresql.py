"""A PostgreSQL client on fastframe: protocol v3, SCRAM-SHA-256, the simple query.

Run it against a server (the password is read from PGPASSWORD, as libpq does):

    PGPASSWORD=secret python examples/recipes/postgresql.py --port 5432 \\
        --user postgres --database postgres --command "SELECT generate_series(1, 3)"

The message formats are PostgreSQL's "Message Formats" and "Message Flow" pages:
https://www.postgresql.org/docs/current/protocol-message-formats.html
https://www.postgresql.org/docs/current/protocol-flow.html
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import ssl
import struct
import sys

import fastframe as ff

# The client's first message (SSLRequest, then StartupMessage) has no type byte: an
# Int32 length that counts its own 4 bytes, then the body.  adjustment=-4 takes the
# field's own size off.  The client only ever sends with this framer (no server
# message is framed this way), so strip is left at its default.
STARTUP = ff.LengthPrefixed(4, adjustment=-4)

# Every later message, both ways: a type byte, an Int32 length that counts itself but
# not the type byte, then the body.  offset=1: the type byte comes before the length;
# adjustment=-4: the field counts its own 4 bytes; strip=0: the frame returned is the
# whole message, so the code that handles it sees its type (message[0]).  Sending,
# the type byte is encode's head: fs.send(body, head=b"Q").
# max_size: the largest message the client accepts (a DataRow holds a whole row); the
# default 16 MiB would refuse a row with a 20 MB value, so it is raised here. A
# message over it is skipped and reported once (see query()).
MESSAGES = ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=64 * 1024 * 1024)

PROTOCOL_3_0 = 3 << 16  # StartupMessage's version: major 3, minor 0
SSL_REQUEST = 1234 << 16 | 5679  # SSLRequest's "version": 80877103

INT16 = struct.Struct("!h")
INT32 = struct.Struct("!i")


class PostgresError(Exception):
    """An ErrorResponse: ``fields`` maps each field's code to its text ("S" severity,
    "C" SQLSTATE, "M" message, "D" detail, "H" hint, ...)."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self.severity = fields.get("V", fields.get("S", "ERROR"))  # V: never translated
        self.code = fields.get("C", "")
        self.message = fields.get("M", "")
        detail = f" ({fields['D']})" if "D" in fields else ""
        super().__init__(f"{self.severity} {self.code}: {self.message}{detail}")


class AuthenticationError(Exception):
    """The client, not the server, refused to go on authenticating."""


class Result:
    """One statement's result: column names, rows of text values (None for NULL), and
    the command tag ("SELECT 3", "INSERT 0 1", ...)."""

    def __init__(self) -> None:
        self.columns: list[str] = []
        self.rows: list[tuple[str | None, ...]] = []
        self.command = ""

    def __repr__(self) -> str:
        return f"<Result {self.command!r} columns={self.columns} rows={len(self.rows)}>"


# -- reading message bodies -----------------------------------------------------------

# A message as received is: type byte (message[0]), Int32 length (message[1:5]), body
# (message[5:]).
BODY = 5


def cstrings(data: bytes) -> list[str]:
    """The NUL-terminated strings that make up ``data``."""
    return [part.decode("utf-8", "replace") for part in data.split(b"\0")[:-1]]


def error_fields(message: bytes) -> dict[str, str]:
    """ErrorResponse and NoticeResponse: (Byte1 code, String value)* then a NUL."""
    return {part[0]: part[1:] for part in cstrings(message[BODY:]) if part}


def row_description(message: bytes) -> list[str]:
    """RowDescription: Int16 count, then per column its name and 18 bytes (table OID,
    column number, type OID, type size, type modifier, format code)."""
    (count,) = INT16.unpack_from(message, BODY)
    names, pos = [], BODY + 2
    for _ in range(count):
        end = message.index(b"\0", pos)
        names.append(message[pos:end].decode())
        pos = end + 1 + 18
    return names


def data_row(message: bytes) -> tuple[str | None, ...]:
    """DataRow: Int16 count, then per column an Int32 length (-1: NULL) and the value's
    bytes (text format, in the client_encoding: UTF8, asked for at startup)."""
    (count,) = INT16.unpack_from(message, BODY)
    values: list[str | None] = []
    pos = BODY + 2
    for _ in range(count):
        (size,) = INT32.unpack_from(message, pos)
        pos += 4
        if size < 0:
            values.append(None)
        else:
            values.append(message[pos : pos + size].decode())
            pos += size
    return tuple(values)


def unexpected(message: bytes, where: str) -> ff.ProtocolError:
    return ff.ProtocolError(f"unexpected message {message[:1]!r} {where}")


# -- connecting -----------------------------------------------------------------------


def request_tls(fs: ff.FramedSocket, context: ssl.SSLContext | None, server_hostname: str | None = None) -> bool:
    """SSLRequest.  The answer is ONE unframed byte: "S" (TLS next) or "N" (go on in
    plaintext).  With "S" the handshake is made with ``context``; a client without a
    context refuses a server that expects a handshake.  Returns whether TLS is on.
    ``fs`` must use STARTUP, as a new connection does."""
    fs.send(INT32.pack(SSL_REQUEST))  # 8 bytes on the wire: length 8, then the code
    answer = fs.recv_exactly(1)
    if answer == b"N":
        return False
    if answer != b"S":
        raise ff.ProtocolError(f"SSLRequest answered with {answer!r}, not b'S' or b'N'")
    if context is None:
        raise AuthenticationError("the server offers TLS and no ssl.SSLContext was given")
    # start_tls refuses (ff.ProtocolError) bytes received after the "S" and before the
    # handshake: they came unprotected (CVE-2021-23222 was libpq reading such bytes).
    fs.start_tls(context, server_hostname=server_hostname)
    return True


def startup(fs: ff.FramedSocket, user: str, database: str, password: str | None = None) -> dict[str, str]:
    """StartupMessage, authentication, then the server's ParameterStatus messages until
    ReadyForQuery.  Returns those parameters (server_version, client_encoding, ...)."""
    parameters = {"user": user, "database": database, "client_encoding": "UTF8", "application_name": "fastframe"}
    body = INT32.pack(PROTOCOL_3_0)
    body += b"".join(f"{name}\0{value}\0".encode() for name, value in parameters.items()) + b"\0"
    fs.send(body)
    # The only message without a type byte is out: from here on, both ways, every
    # message is tag + length + body.  Nothing has been received since the SSLRequest's
    # answer, so nothing buffered is cut by the old framer.
    fs.framer = MESSAGES
    authenticate(fs, password)
    server: dict[str, str] = {}
    while True:
        message = fs.recv()  # a few small messages: one at a time
        kind = message[:1]
        if kind == b"S":  # ParameterStatus: name, value
            name, value = cstrings(message[BODY:])
            server[name] = value
        elif kind in (b"K", b"N"):  # BackendKeyData (a key for CancelRequest), NoticeResponse
            pass
        elif kind == b"E":  # e.g. the database does not exist; the server then closes
            raise PostgresError(error_fields(message))
        elif kind == b"Z":  # ReadyForQuery
            return server
        else:
            raise unexpected(message, "after authentication")


def auth_request(fs: ff.FramedSocket) -> tuple[int, bytes]:
    """The next Authentication* message: its Int32 code and the rest of its body.  An
    ErrorResponse instead (a wrong password: 28P01) is raised."""
    message = fs.recv()
    if message[:1] == b"E":
        raise PostgresError(error_fields(message))
    if message[:1] != b"R":
        raise unexpected(message, "during authentication")
    (code,) = INT32.unpack_from(message, BODY)
    return code, message[BODY + 4 :]


def authenticate(fs: ff.FramedSocket, password: str | None) -> None:
    """Answer the server's requests until AuthenticationOk (code 0).  trust asks nothing;
    scram-sha-256 (the default since PostgreSQL 14) is AuthenticationSASL (10)."""
    while True:
        code, data = auth_request(fs)
        if code == 0:
            return
        if code != 10:
            raise AuthenticationError(f"authentication request {code} is not supported by this client")
        mechanisms = cstrings(data)  # ends with an empty string; SCRAM-SHA-256-PLUS over TLS
        if "SCRAM-SHA-256" not in mechanisms:
            raise AuthenticationError(f"no supported SASL mechanism in {mechanisms}")
        if password is None:
            raise AuthenticationError("the server asks for a password and none was given")
        scram_sha_256(fs, password)


def scram_sha_256(fs: ff.FramedSocket, password: str) -> None:
    """SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding, up to and including
    the check of the server's signature.  The password is used as UTF-8 without
    SASLprep, which leaves every ASCII password as it is."""
    nonce = base64.b64encode(secrets.token_bytes(18)).decode()
    # gs2 header "n,,": no channel binding.  The user name is left empty: PostgreSQL
    # takes the StartupMessage's.
    client_first_bare = f"n=,r={nonce}"
    client_first = f"n,,{client_first_bare}".encode()
    # SASLInitialResponse: mechanism, Int32 length of the response, the response
    fs.send(b"SCRAM-SHA-256\0" + INT32.pack(len(client_first)) + client_first, head=b"p")

    code, data = auth_request(fs)
    if code != 11:  # AuthenticationSASLContinue: server-first-message
        raise AuthenticationError(f"expected SASLContinue (11), got authentication request {code}")
    server_first = data.decode()
    attributes = dict(item.split("=", 1) for item in server_first.split(","))
    combined, salt, iterations = attributes["r"], base64.b64decode(attributes["s"]), int(attributes["i"])
    if not combined.startswith(nonce) or combined == nonce:
        raise AuthenticationError("the server's nonce does not extend the client's")

    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    final_without_proof = f"c=biws,r={combined}"  # biws = base64("n,,")
    auth_message = f"{client_first_bare},{server_first},{final_without_proof}".encode()
    signature = hmac.digest(stored_key, auth_message, "sha256")
    proof = bytes(k ^ s for k, s in zip(client_key, signature))
    # SASLResponse: the client-final-message, nothing around it
    fs.send(f"{final_without_proof},p={base64.b64encode(proof).decode()}".encode(), head=b"p")

    code, data = auth_request(fs)  # a wrong password: ErrorResponse 28P01, raised there
    if code != 12:  # AuthenticationSASLFinal: server-final-message, "v=" + signature
        raise AuthenticationError(f"expected SASLFinal (12), got authentication request {code}")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    expected = b"v=" + base64.b64encode(hmac.digest(server_key, auth_message, "sha256"))
    if not hmac.compare_digest(data, expected):
        raise AuthenticationError("the server's SCRAM signature is wrong: it does not know the password")


# -- querying -------------------------------------------------------------------------


def query(fs: ff.FramedSocket, sql: str) -> list[Result]:
    """A simple Query: one Result per statement.  An ErrorResponse is raised as a
    PostgresError once ReadyForQuery has arrived, so the connection stays usable."""
    fs.send(sql.encode() + b"\0", head=b"Q")
    results: list[Result] = []
    current = Result()
    error: Exception | None = None
    ready = False
    while not ready:
        try:
            # Every message already received in one call: 100 000 DataRows arrive in a
            # few dozen batches instead of 100 000 calls.
            batch = fs.recv_many()
        except ff.FrameTooLarge as exc:
            # A message over MESSAGES' max_size, skipped by fastframe; the messages after
            # it still come, so read on to ReadyForQuery and raise it then.
            error = error or exc
            continue
        for message in batch:
            kind = message[0]
            if kind == 68:  # "D" DataRow, the common case first
                current.rows.append(data_row(message))
            elif kind == 84:  # "T" RowDescription
                current.columns = row_description(message)
            elif kind == 67:  # "C" CommandComplete: the command tag ends this statement
                current.command = cstrings(message[BODY:])[0]
                results.append(current)
                current = Result()
            elif kind == 73:  # "I" EmptyQueryResponse: the query string was empty
                pass
            elif kind == 69:  # "E" ErrorResponse: the rest of the query string is skipped
                error = error or PostgresError(error_fields(message))
            elif kind == 71:  # "G" CopyInResponse: refuse it, the server answers with an error
                fs.send(b"COPY FROM STDIN is not supported by this client\0", head=b"f")
            elif kind in b"NSA":  # NoticeResponse, ParameterStatus, NotificationResponse
                pass  # asynchronous: a fuller client would hand them to the application
            elif kind == 90 and not ready:  # "Z" ReadyForQuery: the server waits again
                ready = True
            else:
                raise unexpected(message, "in a query's response")
    if error is not None:
        raise error
    return results


def terminate(fs: ff.FramedSocket) -> None:
    """Terminate: type "X", length 4, no body.  The server closes the connection, so the
    next receive raises ff.ConnectionClosed."""
    fs.send(b"", head=b"X")


def main() -> int:
    parser = argparse.ArgumentParser(description="Run one query on a PostgreSQL server with fastframe.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--user", default=os.environ.get("PGUSER", "postgres"))
    parser.add_argument("--database", help="default: the user name")
    parser.add_argument("--command", "-c", default="SELECT version()", help="the SQL to run")
    parser.add_argument("--cafile", help="certificates to check the server's with, if it offers TLS")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds for each call")
    args = parser.parse_args()
    password = os.environ.get("PGPASSWORD")  # not an option: argv is visible to others

    # TLS if the server offers it, checked against the system's or --cafile's
    # certificates; plaintext if it answers "N".
    context = ssl.create_default_context(cafile=args.cafile)
    with ff.connect((args.host, args.port), STARTUP, timeout=args.timeout) as fs:
        tls = request_tls(fs, context, server_hostname=args.host)
        try:
            server = startup(fs, args.user, args.database or args.user, password)
        except PostgresError as error:  # the server's own words: severity, SQLSTATE, message
            print(error, file=sys.stderr)  # (a FATAL: the server has closed the connection)
            return 1
        print(f"PostgreSQL {server.get('server_version')}, {'TLS' if tls else 'plaintext'}, {ff.IMPLEMENTATION} core")
        try:
            results = query(fs, args.command)
        except PostgresError as error:  # an ERROR: the connection is still usable
            print(error, file=sys.stderr)
            return 1
        finally:
            terminate(fs)
    for result in results:
        if result.columns:
            print("\t".join(result.columns))
        for row in result.rows:
            print("\t".join("" if value is None else value for value in row))
        print(f"({result.command})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
