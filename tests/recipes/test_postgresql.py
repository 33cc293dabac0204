"""examples/recipes/postgresql.py against a real PostgreSQL on 127.0.0.1, on both cores:
SSLRequest answered "N", SCRAM-SHA-256 and trust, 100 000 DataRows through recv_many,
a multi-megabyte value, errors that leave the connection usable, a wrong password,
Terminate, an oversize message skipped, and the same client over TLS (a second server,
started from a copy of the first one's cluster, that answers "S")."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fastframe as ff
from tests.recipes.conftest import RECIPES, recipe
from tests.support import certs
from tests.support.children import child_env
from tests.support.paths import ROOT
from tests.support.servers import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    data_directory,
    free_port,
    program,
    running,
    unprivileged_user,
)

pg = recipe("postgresql")

TIMEOUT = 30.0  # seconds, for every socket call and the example's run
USER = "fastframe"  # initdb's bootstrap superuser
PASSWORD = "fastframe-password"
DATABASE = "postgres"
TRUSTED_DATABASE = "template1"  # pg_hba.conf lets USER in here without a password


class Cluster:
    """initdb's output: a data directory for the plaintext server and a copy of it, made
    before either starts, for the TLS server."""

    def __init__(self, root: Path, user: str | None) -> None:
        self.root, self.user = root, user
        self.plain, self.tls = root / "plain", root / "tls"

    def server(self, data: Path, log: str) -> Iterator[int]:
        postgres = program("postgres", "postgresql")
        port = free_port()
        argv = [
            postgres,
            "-D", str(data),
            "-p", str(port),
            "-c", "listen_addresses=127.0.0.1",
            "-k", str(data),  # its Unix socket in its own directory, not /var/run/postgresql
            "-c", "fsync=off",  # nothing here needs to survive a crash
        ]  # fmt: skip
        with running(argv, port, self.root / log, user=self.user, cwd=self.root) as process:
            ready(Path(postgres).resolve().with_name("pg_isready"), port)  # the same version's
            try:
                yield port
            finally:
                # running() stops it with SIGTERM: PostgreSQL's "smart" shutdown, which
                # waits for every client to leave.  SIGINT is its "fast" shutdown: it
                # ends the sessions still open (a failed test's) and stops at once.
                process.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=STOP_TIMEOUT)


def ready(pg_isready: Path, port: int) -> None:
    """Wait until the server lets clients in: it accepts connections before, while it
    starts up, and refuses them then with FATAL 57P03."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        argv = [str(pg_isready), "--host=127.0.0.1", f"--port={port}", "--timeout=5", "--quiet"]
        if subprocess.run(argv, timeout=30).returncode == 0:  # 1: starting up, 2: no answer
            return
        if time.monotonic() > deadline:
            pytest.fail(f"PostgreSQL on port {port} did not let clients in within {START_TIMEOUT:.0f} s")
        time.sleep(0.05)


def own(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    initdb = program("initdb", "postgresql")
    user = unprivileged_user("postgres")  # postgres refuses to run as root
    with data_directory("postgresql", user) as root:
        cluster = Cluster(root, user)
        password_file = root / "password"
        password_file.write_text(PASSWORD + "\n")
        own(password_file, user)
        argv = [
            initdb,
            "-D", str(cluster.plain),
            "-U", USER,
            "--auth=scram-sha-256",  # the method PostgreSQL's packages default to
            f"--pwfile={password_file}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # 1.3 s instead of 3
        ]  # fmt: skip
        done = subprocess.run(argv, user=user, cwd=root, capture_output=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"initdb exited with status {done.returncode}:\n{done.stdout.decode()}{done.stderr.decode()}")
        # one way in without a password, checked before the scram-sha-256 lines
        hba = cluster.plain / "pg_hba.conf"
        hba.write_text(f"host {TRUSTED_DATABASE} {USER} 127.0.0.1/32 trust\n" + hba.read_text())
        # the TLS server's copy, made while the cluster is shut down (cp -a keeps owners)
        subprocess.run(["cp", "-a", str(cluster.plain), str(cluster.tls)], check=True, timeout=60)
        yield cluster


@pytest.fixture(scope="module")
def port(cluster: Cluster) -> Iterator[int]:
    yield from cluster.server(cluster.plain, "postgres.log")


@pytest.fixture(scope="module")
def tls_port(cluster: Cluster) -> Iterator[int]:
    """A second server on the copy, with ssl=on and a certificate from the tests'
    authority: it answers SSLRequest with "S"."""
    leaf = certs.server_cert()
    key, chain = cluster.tls / "server.key", cluster.tls / "server.crt"
    leaf.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)  # postgres refuses a key others can read
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    for path in (key, chain):
        own(path, cluster.user)
    with open(cluster.tls / "postgresql.conf", "a") as conf:
        conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    yield from cluster.server(cluster.tls, "postgres-tls.log")


def connect(impl, port: int):
    """A FramedSocket of the core under test on a new connection, framed as a new
    PostgreSQL connection is: STARTUP."""
    return impl.FramedSocket(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT), pg.STARTUP)


@pytest.fixture
def session(impl, port: int) -> Iterator[object]:
    """A connection through SSLRequest ("N"), the startup and SCRAM-SHA-256."""
    with connect(impl, port) as fs:
        assert pg.request_tls(fs, None) is False
        pg.startup(fs, USER, DATABASE, PASSWORD)
        yield fs


def only(results: list) -> object:
    assert len(results) == 1, results
    return results[0]


def test_scram_startup_query_terminate(impl, port: int) -> None:
    with connect(impl, port) as fs:
        assert pg.request_tls(fs, None) is False  # the one raw byte "N"
        assert fs.buffered == 0 and fs.tls is None
        server = pg.startup(fs, USER, DATABASE, PASSWORD)
        assert fs.framer == pg.MESSAGES
        assert server["server_version"].split(".")[0].isdigit()
        assert server["client_encoding"] == "UTF8"
        assert server["session_authorization"] == USER
        assert server["application_name"] == "fastframe"

        result = only(pg.query(fs, "SELECT current_user, 1 + 1 AS two, NULL AS nothing, 'héllo' AS word"))
        assert result.columns == ["current_user", "two", "nothing", "word"]
        assert result.rows == [(USER, "2", None, "héllo")]
        assert result.command == "SELECT 1"

        # several statements: one result each; a statement without rows has no columns
        results = pg.query(
            fs, "SELECT 1 AS a; CREATE TEMP TABLE t (x int); INSERT INTO t VALUES (7), (8); SELECT x FROM t"
        )
        assert [(r.columns, r.rows, r.command) for r in results] == [
            (["a"], [("1",)], "SELECT 1"),
            ([], [], "CREATE TABLE"),
            ([], [], "INSERT 0 2"),
            (["x"], [("7",), ("8",)], "SELECT 2"),
        ]
        assert pg.query(fs, "") == []  # EmptyQueryResponse, then ReadyForQuery
        assert fs.buffered == 0

        pg.terminate(fs)
        with pytest.raises(ff.ConnectionClosed) as closed:
            fs.recv()
        assert type(closed.value) is ff.ConnectionClosed  # between messages, not inside one


class Batches:
    """The FramedSocket calls query() makes, with the size of each recv_many batch kept."""

    def __init__(self, fs) -> None:
        self.fs, self.sizes = fs, []

    def send(self, *args, **kwargs) -> None:
        self.fs.send(*args, **kwargs)

    def recv_many(self) -> list[bytes]:
        frames = self.fs.recv_many()
        self.sizes.append(len(frames))
        return frames


def test_100000_rows_through_recv_many(session) -> None:
    counted = Batches(session)
    result = only(pg.query(counted, "SELECT generate_series(1, 100000)"))
    assert result.columns == ["generate_series"]
    assert result.command == "SELECT 100000"
    assert len(result.rows) == 100_000
    assert result.rows == [(str(i),) for i in range(1, 100_001)]
    # RowDescription, 100 000 DataRows, CommandComplete, ReadyForQuery, in batches
    assert sum(counted.sizes) == 100_003
    assert len(counted.sizes) < 2_000, f"{len(counted.sizes)} recv_many calls"
    print(f"\n100 003 messages in {len(counted.sizes)} recv_many batches (largest {max(counted.sizes)})")
    assert session.buffered == 0


def test_multi_megabyte_value(session) -> None:
    sql = "SELECT v, octet_length(v), md5(v) FROM (SELECT repeat('fastframe-é', 500000) AS v) AS s"
    result = only(pg.query(session, sql))
    value, size, digest = result.rows[0]
    assert value == "fastframe-é" * 500_000
    assert int(size) == len(value.encode()) == 6_000_000  # one DataRow of 6 MB and change
    assert digest == hashlib.md5(value.encode()).hexdigest()
    # the stream is in step after it
    assert only(pg.query(session, "SELECT repeat('x', 5000000) = repeat('x', 5000000)")).rows == [("t",)]
    assert only(pg.query(session, "SELECT repeat('x', 5000000)")).rows == [("x" * 5_000_000,)]


def test_error_then_the_same_connection(session) -> None:
    with pytest.raises(pg.PostgresError) as raised:
        pg.query(session, "SELECT 1/0")
    error = raised.value
    assert (error.severity, error.code, error.message) == ("ERROR", "22012", "division by zero")
    assert error.fields["S"] == "ERROR" and error.fields["C"] == "22012"
    assert str(error) == "ERROR 22012: division by zero"
    assert only(pg.query(session, "SELECT 42")).rows == [("42",)]

    # an error after some rows were sent, and in the middle of several statements
    with pytest.raises(pg.PostgresError) as raised:
        pg.query(session, "SELECT 1; SELECT 10 / (3 - i) FROM generate_series(1, 5) AS i; SELECT 3")
    assert raised.value.code == "22012"
    with pytest.raises(pg.PostgresError) as raised:
        pg.query(session, "SELECT * FROM no_such_table")
    assert (raised.value.code, raised.value.message) == ("42P01", 'relation "no_such_table" does not exist')
    assert raised.value.fields["P"] == "15"  # the position in the query string
    assert only(pg.query(session, "SELECT 'still usable'")).rows == [("still usable",)]
    assert session.buffered == 0


def test_wrong_password(impl, port: int) -> None:
    with connect(impl, port) as fs:
        assert pg.request_tls(fs, None) is False
        with pytest.raises(pg.PostgresError) as raised:
            pg.startup(fs, USER, DATABASE, "not-the-password")
        error = raised.value
        assert (error.severity, error.code) == ("FATAL", "28P01")
        assert error.message == f'password authentication failed for user "{USER}"'
        with pytest.raises(ff.ConnectionClosed):  # the server closed after the FATAL
            fs.recv()


def test_password_needed_but_not_given(impl, port: int) -> None:
    with connect(impl, port) as fs:
        pg.request_tls(fs, None)
        with pytest.raises(pg.AuthenticationError, match="asks for a password"):
            pg.startup(fs, USER, DATABASE, None)


def test_trust(impl, port: int) -> None:
    with connect(impl, port) as fs:
        assert pg.request_tls(fs, None) is False
        pg.startup(fs, USER, TRUSTED_DATABASE, None)  # AuthenticationOk at once
        assert only(pg.query(fs, "SELECT current_database(), current_user")).rows == [(TRUSTED_DATABASE, USER)]
        pg.terminate(fs)
        with pytest.raises(ff.ConnectionClosed):
            fs.recv_many()


def test_unknown_database(impl, port: int) -> None:
    with connect(impl, port) as fs:
        pg.request_tls(fs, None)
        with pytest.raises(pg.PostgresError) as raised:
            pg.startup(fs, USER, "no_such_database", PASSWORD)
        assert (raised.value.severity, raised.value.code) == ("FATAL", "3D000")


def test_oversize_message_is_skipped(session) -> None:
    small = ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=1024 * 1024)
    session.framer = small  # between queries: nothing is buffered
    with pytest.raises(ff.FrameTooLarge) as raised:
        pg.query(session, "SELECT repeat('x', 5000000)")
    # the DataRow: type, length, column count, column length, 5 000 000 bytes
    assert (raised.value.size, raised.value.max_size) == (1 + 4 + 2 + 4 + 5_000_000, 1024 * 1024)
    # query() read on to ReadyForQuery: the next one starts in step
    assert only(pg.query(session, "SELECT 'after'")).rows == [("after",)]
    assert session.buffered == 0


def test_tls(impl, tls_port: int) -> None:
    with connect(impl, tls_port) as fs:
        assert pg.request_tls(fs, certs.client_context(), server_hostname=certs.SERVER_NAME) is True
        assert fs.tls is not None and fs.tls.version().startswith("TLS")
        pg.startup(fs, USER, DATABASE, PASSWORD)  # SCRAM-SHA-256 inside TLS
        assert only(pg.query(fs, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows == [("t",)]
        result = only(pg.query(fs, "SELECT generate_series(1, 100000)"))
        assert result.rows == [(str(i),) for i in range(1, 100_001)]
        pg.terminate(fs)
        with pytest.raises(ff.ConnectionClosed):
            fs.recv()

    # no context: a server that says "S" is refused
    with connect(impl, tls_port) as fs, pytest.raises(pg.AuthenticationError, match="offers TLS"):
        pg.request_tls(fs, None)


def run_example(port: int, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RECIPES / "postgresql.py"), "--port", str(port), "--user", USER, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=child_env(PGPASSWORD=password),
        timeout=TIMEOUT,
    )


def test_example_main(port: int) -> None:
    sql = "SELECT generate_series(1, 3) AS n, 'x' || generate_series(1, 3) AS s"
    done = run_example(port, "--database", DATABASE, "--command", sql, password=PASSWORD)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PostgreSQL ") and ", plaintext, " in lines[0]
    assert lines[1:] == ["n\ts", "1\tx1", "2\tx2", "3\tx3", "(SELECT 3)"]

    done = run_example(port, "--database", DATABASE, "--command", "SELECT 1/0", password=PASSWORD)
    assert done.returncode == 1 and done.stderr.strip() == "ERROR 22012: division by zero"

    done = run_example(port, "--database", DATABASE, password="wrong")
    assert done.returncode == 1
    assert done.stderr.strip() == f'FATAL 28P01: password authentication failed for user "{USER}"'
