"""examples/recipes/redis.py against a real redis-server on 127.0.0.1, on both cores:
RESP2 replies parsed over recv_until / recv_exactly, big values, pipelining, arrays,
nils and error replies."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.recipes.conftest import RECIPES, recipe
from tests.support.children import child_env
from tests.support.paths import ROOT
from tests.support.servers import data_directory, free_port, program, running

redis = recipe("redis")

TIMEOUT = 30.0  # seconds, for every socket call and the example's run
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = program("redis-server", "redis-server")
    port = free_port()
    with data_directory("redis", None) as data:
        argv = [
            server,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(data),
            "--save", "",  # no snapshots, no append-only file: nothing outlives the test
            "--appendonly", "no",
        ]  # fmt: skip
        with running(argv, port, data / "redis.log"):
            yield port


@pytest.fixture
def fs(impl, port: int) -> Iterator[object]:
    """A FramedSocket of the core under test, on a new connection, emptied database."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    with impl.FramedSocket(sock, redis.FRAMER) as fs:
        assert redis.command(fs, "FLUSHALL") == "OK"
        yield fs


def test_set_get_round_trip(fs) -> None:
    assert redis.command(fs, "PING") == "PONG"
    assert redis.command(fs, "SET", "greeting", "héllo") == "OK"
    assert redis.command(fs, "GET", "greeting") == "héllo".encode()
    assert redis.command(fs, "STRLEN", "greeting") == 6
    assert redis.command(fs, "GET", "missing") is None  # the nil bulk, $-1
    assert redis.command(fs, "SET", "empty", b"") == "OK"
    assert redis.command(fs, "GET", "empty") == b""  # $0, then its CRLF
    assert fs.buffered == 0


def test_multi_megabyte_value(fs) -> None:
    # 8 MiB: every byte value (CR and LF among them: a bulk body is counted, never
    # scanned), then random bytes
    value = bytes(range(256)) * 4096 + random.Random(8).randbytes(7 * MiB)
    assert len(value) == 8 * MiB
    assert redis.command(fs, "SET", "big", value) == "OK"
    assert redis.command(fs, "STRLEN", "big") == 8 * MiB
    got = redis.command(fs, "GET", "big")
    assert type(got) is bytes and len(got) == 8 * MiB and got == value
    # and the stream is still in step after it
    assert redis.command(fs, "GETRANGE", "big", 0, 255) == bytes(range(256))
    assert fs.buffered == 0


class Recording:
    """A FramedSocket whose sendall calls are counted (their sizes kept)."""

    def __init__(self, fs) -> None:
        self.fs = fs
        self.sends: list[int] = []

    def sendall(self, data) -> None:
        self.sends.append(len(data))
        self.fs.sendall(data)

    def __getattr__(self, name: str):
        return getattr(self.fs, name)


def test_pipeline_sends_once(fs) -> None:
    recording = Recording(fs)
    replies = redis.pipeline(recording, [("INCR", "counter")] * 10_000)
    assert replies == list(range(1, 10_001))  # every reply, in order
    one = len(redis.encode("INCR", "counter"))
    assert recording.sends == [10_000 * one]  # all 10 000 requests in one sendall
    assert redis.command(fs, "GET", "counter") == b"10000"
    assert fs.buffered == 0


def test_array_replies_and_nils(fs) -> None:
    items = [b"item-%d" % i for i in range(1000)]
    assert redis.command(fs, "RPUSH", "list", *items) == 1000
    assert redis.command(fs, "LRANGE", "list", 0, -1) == items
    assert redis.command(fs, "LRANGE", "nothing", 0, -1) == []  # *0
    assert redis.command(fs, "MSET", "a", "1", "c", "3") == "OK"
    assert redis.command(fs, "MGET", "a", "b", "c") == [b"1", None, b"3"]  # a nil inside an array
    assert redis.command(fs, "BLPOP", "nothing", "0.01") is None  # the nil array, *-1
    # nested arrays: EXEC returns each queued command's reply, an error reply among them
    assert redis.pipeline(fs, [("MULTI",), ("INCR", "n"), ("LPUSH", "a", "x"), ("RPUSH", "n2", "y")]) == [
        "OK",
        "QUEUED",
        "QUEUED",
        "QUEUED",
    ]
    first, error, third = redis.command(fs, "EXEC")
    assert (first, third) == (1, 1)
    assert isinstance(error, redis.RedisError) and str(error).startswith("WRONGTYPE")
    assert fs.buffered == 0


def test_error_reply_raises_and_connection_goes_on(fs) -> None:
    assert redis.command(fs, "SET", "word", "abc") == "OK"
    with pytest.raises(redis.RedisError) as caught:
        redis.command(fs, "INCR", "word")
    assert str(caught.value) == "ERR value is not an integer or out of range"
    with pytest.raises(redis.RedisError, match=r"^ERR unknown command 'NOSUCHCOMMAND'"):
        redis.command(fs, "NOSUCHCOMMAND", "x")
    assert redis.command(fs, "GET", "word") == b"abc"  # the next command works
    # in a pipeline the error takes its place and the replies after it still come
    replies = redis.pipeline(fs, [("INCR", "n"), ("INCR", "word"), ("INCR", "n")])
    assert replies[0] == 1 and replies[2] == 2
    assert isinstance(replies[1], redis.RedisError) and str(replies[1]).startswith("ERR value is not an integer")
    assert fs.buffered == 0


def test_example_main(port: int) -> None:
    done = subprocess.run(
        [sys.executable, str(RECIPES / "redis.py"), "--port", str(port), "--key", "k", "--value", "v 1"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["PING -> PONG", "SET  -> OK", "GET  -> v 1"]


def test_server_uses_the_test_data_directory(fs) -> None:
    name, directory = redis.command(fs, "CONFIG", "GET", "dir")
    assert name == b"dir" and Path(directory.decode()).name.startswith("fastframe-redis-")
