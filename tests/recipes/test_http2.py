"""examples/recipes/http2.py against a real nghttpd (Debian's nghttp2-server) in
cleartext on 127.0.0.1, on both cores: the SETTINGS exchange, a 1 MiB file that
needs flow control (WINDOW_UPDATE frames), a small file, a 404, header blocks
split into CONTINUATION frames both ways, the server's RST_STREAM and GOAWAY.

nghttpd runs with --padding, so its HEADERS and DATA frames are padded, and with
a 30 000-character trailer, so every response ends with a header block that needs
CONTINUATION frames.  Two tests play the server themselves, on a socketpair:
nghttpd never sends a PING or a frame over our SETTINGS_MAX_FRAME_SIZE.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import socket
import string
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import hpack
import pytest

import fastframe as ff
from tests.recipes.conftest import RECIPES, recipe
from tests.support.children import child_env
from tests.support.servers import data_directory, free_port, program, running

h2 = recipe("http2")

TIMEOUT = 10.0  # seconds, for every socket call and the subprocess
BIG = os.urandom(1 << 20)  # 1 MiB: sixteen times the initial 65 535-byte windows
SMALL = b"hello, HTTP/2\n"
# random letters and digits: HPACK's Huffman code cannot bring them under 16 384 bytes
TRAILER = "".join(random.Random(2).choices(string.ascii_letters + string.digits, k=30_000))


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    nghttpd = program("nghttpd", "nghttp2-server")
    port = free_port()
    log = tmp_path_factory.mktemp("nghttpd") / "nghttpd.log"
    with data_directory("nghttpd", None) as docroot:
        (docroot / "big.bin").write_bytes(BIG)
        (docroot / "small.txt").write_bytes(SMALL)
        argv = [
            nghttpd,
            "--no-tls",
            "--address=127.0.0.1",  # else every address getaddrinfo gives
            f"--htdocs={docroot}",
            "--padding=16",  # PADDED frames for the client to unpad
            f"--trailer=x-long: {TRAILER}",  # a header block over one frame
            str(port),
        ]
        with running(argv, port, log):
            yield port


@pytest.fixture
def conn(impl: Any, port: int) -> Iterator[Any]:
    """A connection past the SETTINGS exchange, on the core under test."""
    fs = impl.FramedSocket(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT), h2.FRAMER)
    with fs:
        yield h2.handshake(fs)


def authority(port: int) -> str:
    return f"127.0.0.1:{port}"


def header(headers: list[tuple[str, str]], name: str) -> str:
    (value,) = [v for n, v in headers if n == name]
    return value


def test_settings_are_exchanged_and_both_acknowledged(conn: Any) -> None:
    assert conn.settings_acked  # the server's ACK of ours
    assert conn.server_settings_acked == 1  # our ACK of the server's
    assert conn.sent[h2.SETTINGS] == 2 and conn.received[h2.SETTINGS] == 2  # each: SETTINGS, ACK
    assert conn.server_settings[0x3] == 100  # SETTINGS_MAX_CONCURRENT_STREAMS, nghttpd's default
    h2.close(conn)
    assert conn.fs.socket is None
    assert conn.sent[h2.GOAWAY] == 1


def test_a_mebibyte_needs_window_updates(conn: Any, port: int) -> None:
    response = h2.get(conn, "/big.bin", authority(port))
    assert response.status == 200
    assert header(response.headers, "content-length") == str(len(BIG))
    assert len(response.body) == len(BIG)
    assert hashlib.sha256(response.body).digest() == hashlib.sha256(BIG).digest()
    # Both windows, the stream's and the connection's, must be given back at least
    # 1 MiB - 65 535 bytes, and one WINDOW_UPDATE gives at most 65 535: 16 each.
    least = -(-(len(BIG) - h2.WINDOW) // h2.WINDOW)
    assert least == 16
    assert conn.sent[h2.WINDOW_UPDATE] >= 2 * least
    assert conn.received[h2.DATA] >= len(BIG) // h2.MAX_FRAME_SIZE
    assert conn.padded >= 1
    # the trailer's block came in a HEADERS frame and CONTINUATION frames
    assert response.trailers == [("x-long", TRAILER)]
    assert conn.received[h2.CONTINUATION] >= 1
    h2.close(conn)


def test_a_small_file(conn: Any, port: int) -> None:
    response = h2.get(conn, "/small.txt", authority(port))
    assert (response.status, response.body) == (200, SMALL)
    assert header(response.headers, "content-type") == "text/plain"
    assert conn.sent[h2.WINDOW_UPDATE] == 0  # 14 bytes: no credit to give back yet
    h2.close(conn)


def test_a_missing_path_is_404_and_the_connection_goes_on(conn: Any, port: int) -> None:
    response = h2.get(conn, "/missing", authority(port))
    assert response.status == 404
    assert b"404" in response.body
    again = h2.get(conn, "/small.txt", authority(port))  # stream 3
    assert (again.status, again.body) == (200, SMALL)
    assert conn.next_stream_id == 5
    h2.close(conn)


def test_a_long_request_header_block_goes_out_in_continuation_frames(conn: Any, port: int) -> None:
    response = h2.get(conn, "/" + "p" * 40_000, authority(port))
    assert response.status == 404
    assert conn.sent[h2.HEADERS] == 1 and conn.sent[h2.CONTINUATION] >= 1
    h2.close(conn)


def test_the_servers_rst_stream_is_a_stream_reset(conn: Any, port: int) -> None:
    with pytest.raises(h2.StreamReset, match="PROTOCOL_ERROR") as caught:
        h2.get(conn, "", authority(port))  # an empty :path: a malformed request
    assert caught.value.code == h2.PROTOCOL_ERROR
    response = h2.get(conn, "/small.txt", authority(port))  # only the stream ended
    assert (response.status, response.body) == (200, SMALL)
    h2.close(conn)


def test_the_servers_goaway_carries_its_message(conn: Any, port: int) -> None:
    conn.next_stream_id = 2  # an even stream id: a client may not open it
    with pytest.raises(h2.GoAway) as caught:
        h2.get(conn, "/small.txt", authority(port))
    error = caught.value
    assert error.code == h2.PROTOCOL_ERROR
    assert error.debug and error.debug.decode() in str(error)  # nghttp2's words
    assert error.last_stream_id == 0


# --- the server played by the test, on a socketpair ---------------------------

PEER = ff.LengthPrefixed(3, adjustment=6)  # the same frames, without our size limit


def played(impl: Any, server_frames: list[bytes]) -> tuple[Any, socket.socket]:
    """A FramedSocket to a peer that has already sent ``server_frames``."""
    ours, theirs = socket.socketpair()
    ours.settimeout(TIMEOUT)
    theirs.settimeout(TIMEOUT)
    theirs.sendall(PEER.encode_many(server_frames))
    return impl.FramedSocket(ours, h2.FRAMER), theirs


def what_the_client_sent(theirs: socket.socket) -> list[tuple[int, int, int, bytes]]:
    """Every frame the client sent before it closed, after the preface."""
    with ff.FramedSocket(theirs, PEER) as fs:
        assert fs.recv_exactly(len(h2.PREFACE)) == h2.PREFACE
        return [(f[0], f[1], int.from_bytes(f[2:6], "big"), f[6:]) for f in fs]


def test_a_ping_is_answered_with_its_payload(impl: Any) -> None:
    server = [h2.frame(h2.SETTINGS, 0, 0), h2.frame(h2.PING, 0, 0, b"12345678"), h2.frame(h2.SETTINGS, h2.ACK, 0)]
    fs, theirs = played(impl, server)
    conn = h2.handshake(fs)
    fs.close()
    assert what_the_client_sent(theirs) == [
        (h2.SETTINGS, 0, 0, bytes.fromhex("0002 00000000 0005 00004000")),  # no push; 16 384
        (h2.SETTINGS, h2.ACK, 0, b""),
        (h2.PING, h2.ACK, 0, b"12345678"),
    ]
    assert conn.sent[h2.PING] == 1 and conn.settings_acked


def test_a_frame_over_max_frame_size_is_a_frame_size_error(impl: Any) -> None:
    response = bytes(hpack.Encoder().encode([(":status", "200")]))
    server = [
        h2.frame(h2.SETTINGS, 0, 0),
        h2.frame(h2.SETTINGS, h2.ACK, 0),
        h2.frame(h2.HEADERS, h2.END_HEADERS, 1, response),
        h2.frame(h2.DATA, 0, 1, b"x" * (h2.MAX_FRAME_SIZE + 1)),  # one byte too many
    ]
    fs, theirs = played(impl, server)
    conn = h2.handshake(fs)
    with pytest.raises(h2.ConnectionFailed, match="FRAME_SIZE_ERROR: a 16385-byte payload") as caught:
        h2.get(conn, "/", "example")
    assert caught.value.code == h2.FRAME_SIZE_ERROR
    fs.close()
    *_, goaway = what_the_client_sent(theirs)
    kind, flags, stream_id, payload = goaway
    assert (kind, stream_id, payload[:8]) == (h2.GOAWAY, 0, bytes.fromhex("00000000 00000006"))
    assert payload[8:] == b"a 16385-byte payload, over 16384"


# --- the example as a program ---------------------------------------------------


def test_main_prints_the_status_and_the_body_length(port: int) -> None:
    result = subprocess.run(
        [sys.executable, str(RECIPES / "http2.py"), "--port", str(port), "--path", "/big.bin"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 3,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = re.fullmatch(r"status 200, 1048576 bytes, (\d+) WINDOW_UPDATE frames sent\n", result.stdout)
    assert found is not None, result.stdout
    assert int(found.group(1)) >= 32  # as in test_a_mebibyte_needs_window_updates
