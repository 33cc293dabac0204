"""Real servers for the recipes' tests: a program from Debian's packages, started as
a child process on 127.0.0.1 with its data in a temporary directory, and stopped
after.

Where a program is not installed the test skips and says which package to
install, except where FASTFRAME_REQUIRE_SERVERS=1 is set, where it fails: .ci/run
installs the packages and sets it, so a missing server there is a broken run, not a
reason to skip.  (Not the CI variable: every CI service sets that, also where no
server can be installed, as on the wheels' test machines.)
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import pytest

REQUIRE_SERVERS = "FASTFRAME_REQUIRE_SERVERS"
START_TIMEOUT = 60.0  # seconds for a server to accept connections
STOP_TIMEOUT = 20.0  # seconds for it to exit after SIGTERM, before SIGKILL

# where Debian puts programs that are not on a user's PATH
_DIRECTORIES = ("/usr/sbin", "/sbin", *sorted(glob("/usr/lib/postgresql/*/bin"), reverse=True))


def program(name: str, package: str) -> str:
    """The path of ``name``; skips (fails under CI) when it is not installed."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_DIRECTORIES))
    if found is not None:
        return found
    reason = f"{name} is not installed (Debian package {package}; .ci/run installs it)"
    if os.environ.get(REQUIRE_SERVERS) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_SERVERS}=1 says this test must run, not skip")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unprivileged_user(name: str) -> str | None:
    """The user a server that refuses root runs as: ``name`` when this process is
    root (as in CI), else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(name)
    except KeyError:
        pytest.fail(f"running as root, and there is no user {name!r} to run the server as")
    return name


@contextmanager
def data_directory(name: str, user: str | None) -> Iterator[Path]:
    """A new empty directory for a server's data, owned by ``user`` when one is
    named (under /tmp, which every user can reach), removed after the block."""
    path = Path(tempfile.mkdtemp(prefix=f"fastframe-{name}-"))
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@contextmanager
def running(
    argv: Sequence[str], port: int, log: Path, *, user: str | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` until the block ends; yields once 127.0.0.1:``port`` accepts
    connections.  Its output goes to ``log``, quoted when it fails to start."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            user=user,
            start_new_session=True,  # a Ctrl-C meant for pytest is not also its
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                state = (
                    f"exited with status {process.returncode}"
                    if process.returncode is not None
                    else f"did not accept connections within {START_TIMEOUT:.0f} s"
                )
                tail = log.read_text(errors="replace")[-4000:]
                pytest.fail(f"{argv[0]} {state} on port {port}; its output:\n{tail}")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
