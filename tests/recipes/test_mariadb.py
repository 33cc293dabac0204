"""examples/recipes/mariadb.py against a real MariaDB server (mariadbd from Debian's
mariadb-server), on 127.0.0.1, on both cores.

The server gets a fresh data directory (mariadb-install-db), real authentication
(no --skip-grant-tables) and an --init-file that creates the users and the
database.  As root, both programs run as the package's ``mysql`` user through
Popen's ``user=``: mariadbd refuses to run as root, and this way no process of the
server ever holds root's rights (rather than starting as root and dropping them
with --user=mysql), and its files are the mysql user's from the start.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.recipes.conftest import RECIPES, recipe
from tests.support.children import child_env
from tests.support.servers import data_directory, free_port, program, running, unprivileged_user

mariadb = recipe("mariadb")

TIMEOUT = 30.0  # seconds, for every socket and subprocess wait
PASSWORD = "fastframe-Pa55word"
SWITCH_PASSWORD = "switch-Pa55word"
DATABASE = "fastframe"

# Every account is @'127.0.0.1': the tests connect over TCP to 127.0.0.1, and
# --skip-name-resolve keeps the server from looking that address up.  'switcher'
# tries unix_socket first, which fails over TCP, then mysql_native_password: the
# server moves on with an AuthSwitchRequest.
INIT_SQL = f"""
CREATE DATABASE {DATABASE};
CREATE USER 'fastframe'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('{PASSWORD}');
GRANT ALL ON {DATABASE}.* TO 'fastframe'@'127.0.0.1';
CREATE USER 'switcher'@'127.0.0.1'
    IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('{SWITCH_PASSWORD}');
"""

# small and quick: a 16 MiB buffer pool, small redo log and temporary tablespace,
# no binary log, no fsync; max_allowed_packet lets values over 16 MiB through
SERVER_OPTIONS = [
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=4M",
    "--innodb-temp-data-file-path=ibtmp1:4M:autoextend",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--skip-log-bin",
    "--skip-name-resolve",
    "--max-allowed-packet=64M",
]

FULL = 0xFFFFFF  # a full packet's payload


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    mariadbd = program("mariadbd", "mariadb-server")
    install_db = program("mariadb-install-db", "mariadb-server")
    user = unprivileged_user("mysql")
    with data_directory("mariadb", user) as base:
        data = base / "data"
        init = base / "init.sql"
        init.write_text(INIT_SQL)
        init.chmod(0o644)  # written by us, read by the server's user
        install = subprocess.run(
            [
                install_db,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *SERVER_OPTIONS,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=base,
            user=user,
            timeout=120,
            check=False,
        )
        if install.returncode != 0:
            pytest.fail(f"mariadb-install-db exited with {install.returncode}:\n{install.stdout.decode()[-4000:]}")
        chosen = free_port()
        argv = [
            mariadbd,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={chosen}",
            "--bind-address=127.0.0.1",
            f"--socket={base / 'sock'}",
            f"--pid-file={base / 'pid'}",
            f"--init-file={init}",
            *SERVER_OPTIONS,
        ]
        with running(argv, chosen, base / "server.log", user=user, cwd=base):
            yield chosen


@pytest.fixture
def connect(port: int, impl: Any) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """connect(user=, password=) -> (FramedSocket, Greeting), logged in; closed after."""
    opened = []

    def connect_(user: str = "fastframe", password: str = PASSWORD, database: str | None = DATABASE):
        fs = impl.FramedSocket(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT), mariadb.PACKETS)
        opened.append(fs)
        return fs, mariadb.login(fs, user, password, database)

    yield connect_
    for fs in opened:
        fs.close()


def test_login_and_a_row(connect: Any) -> None:
    fs, greeting = connect()
    assert "MariaDB" in greeting.server_version and not greeting.server_version.startswith("5.5.5-")
    assert greeting.auth_plugin == "mysql_native_password" and len(greeting.scramble) == 20
    assert not greeting.auth_switched
    result = mariadb.query(fs, "SELECT CURRENT_USER(), DATABASE(), CONNECTION_ID(), 6 * 7, CAST('ab' AS BINARY)")
    assert [column.name for column in result.columns] == [
        "CURRENT_USER()",
        "DATABASE()",
        "CONNECTION_ID()",
        "6 * 7",
        "CAST('ab' AS BINARY)",
    ]
    assert result.rows == [("fastframe@127.0.0.1", DATABASE, greeting.connection_id, 42, b"ab")]
    mariadb.disconnect(fs)  # returns once the server has closed the connection


def test_100000_rows_in_order(connect: Any) -> None:
    fs, _ = connect()
    result = mariadb.query(fs, "SELECT seq FROM seq_1_to_100000")  # the Sequence engine
    assert result.rows == [(n,) for n in range(1, 100_001)]
    # column count, its definition, EOF, a packet a row, EOF: the sequence id
    # went round 256 ids 390 times and was checked on every packet
    assert result.packets == 100_004


def test_a_value_over_16_mib_arrives_split_and_joined(connect: Any) -> None:
    fs, _ = connect()
    result = mariadb.query(fs, "SELECT REPEAT('x', 20000000), 7")
    ((value, seven),) = result.rows
    assert seven == 7 and len(value) == 20_000_000 and value == "x" * 20_000_000
    # the row's payload is 0xFE + an 8-byte length + the value + 1 + "7":
    # 20 000 011 bytes, sent as 0xFFFFFF bytes and 3 222 796: two packets
    assert result.packets == 1 + 2 + 1 + 2 + 1


def test_a_payload_of_exactly_0xffffff_bytes_ends_with_an_empty_packet(connect: Any) -> None:
    fs, _ = connect()
    # the row: 0xFD + a 3-byte length + 0xFFFFFB bytes = one full packet, then an empty one
    result = mariadb.query(fs, f"SELECT REPEAT('z', {FULL - 4})")
    assert result.rows == [("z" * (FULL - 4),)]
    assert result.packets == 1 + 1 + 1 + 2 + 1
    # the other way: COM_QUERY's byte + the statement = 0xFFFFFF bytes
    head, tail = "SELECT LENGTH('", "')"
    literal = "q" * (FULL - 1 - len(head) - len(tail))
    assert mariadb.query(fs, head + literal + tail).rows == [(len(literal),)]


def test_a_long_statement_is_sent_split(connect: Any) -> None:
    fs, _ = connect()
    literal = "abcdefghijklmnopqrstuvwxyz" * 700_000  # 18 200 000 bytes: two packets
    result = mariadb.query(fs, f"SELECT MD5('{literal}')")
    assert result.rows == [(hashlib.md5(literal.encode()).hexdigest(),)]


def test_null_columns(connect: Any) -> None:
    fs, _ = connect()
    result = mariadb.query(fs, "SELECT NULL, 'a', NULL, '', 0")
    assert result.rows == [(None, "a", None, "", 0)]


def test_ok_packets_and_a_table(connect: Any) -> None:
    fs, _ = connect()
    created = mariadb.query(fs, "CREATE TEMPORARY TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))")
    assert (created.columns, created.rows, created.packets) == ([], [], 1)
    inserted = mariadb.query(fs, "INSERT INTO t (v) VALUES ('one'), (NULL), ('tres')")
    assert (inserted.affected_rows, inserted.last_insert_id) == (3, 1)
    assert mariadb.query(fs, "SELECT id, v FROM t ORDER BY id").rows == [(1, "one"), (2, None), (3, "tres")]
    assert mariadb.query(fs, "UPDATE t SET v = 'x' WHERE id > 1").affected_rows == 2


def test_an_error_raises_and_the_connection_goes_on(connect: Any) -> None:
    fs, _ = connect()
    with pytest.raises(mariadb.ServerError) as caught:
        mariadb.query(fs, "SELEC 1")
    assert (caught.value.code, caught.value.sqlstate) == (1064, "42000")
    assert "You have an error in your SQL syntax" in caught.value.message
    assert "near 'SELEC 1' at line 1" in caught.value.message
    assert str(caught.value).startswith("ERROR 1064 (42000): You have an error")
    assert mariadb.query(fs, "SELECT 1").rows == [(1,)]
    with pytest.raises(mariadb.ServerError) as caught:
        mariadb.query(fs, "SELECT * FROM no_such_table")
    assert (caught.value.code, caught.value.sqlstate) == (1146, "42S02")
    assert caught.value.message == f"Table '{DATABASE}.no_such_table' doesn't exist"
    assert mariadb.query(fs, "SELECT seq FROM seq_1_to_3").rows == [(1,), (2,), (3,)]


def test_a_wrong_password_is_refused(connect: Any) -> None:
    with pytest.raises(mariadb.ServerError) as caught:
        connect(password="not-" + PASSWORD)
    assert (caught.value.code, caught.value.sqlstate) == (1045, "28000")
    assert caught.value.message == "Access denied for user 'fastframe'@'127.0.0.1' (using password: YES)"


def test_an_auth_switch_request_is_followed(connect: Any) -> None:
    fs, greeting = connect(user="switcher", password=SWITCH_PASSWORD, database=None)
    assert greeting.auth_switched  # answered at sequence id 3, then OK at 4
    assert mariadb.query(fs, "SELECT CURRENT_USER()").rows == [("switcher@127.0.0.1",)]
    with pytest.raises(mariadb.ServerError) as caught:
        connect(user="switcher", password="wrong", database=None)
    assert caught.value.code == 1045


def test_main_prints_a_result(port: int) -> None:
    sql = "SELECT seq, seq * seq AS square FROM seq_1_to_3"
    argv = [sys.executable, str(RECIPES / "mariadb.py"), "--port", str(port), "--user", "fastframe"]
    argv += ["--password", PASSWORD, "--database", DATABASE, "--query", sql]
    done = subprocess.run(argv, env=child_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("connected to ") and "MariaDB" in lines[0]
    assert lines[1:] == ["seq\tsquare", "1\t1", "2\t4", "3\t9", "3 rows in 8 packets"]
