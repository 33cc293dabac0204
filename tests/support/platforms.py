"""What the platform running the tests lacks, as skip markers, and the few helpers
that make a test independent of the platform.

The suite runs on Linux, macOS and Windows.  A test that needs something a
platform does not have (Unix sockets on Windows, POSIX signals) is skipped there
with the reason; fastframe's own features are never skipped.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import tempfile
import threading
from typing import IO, Any

import pytest

HAVE_UNIX_SOCKETS = hasattr(socket, "AF_UNIX")
requires_unix_sockets = pytest.mark.skipif(
    not HAVE_UNIX_SOCKETS, reason="no AF_UNIX sockets in this Python (Windows)"
)

# A signal sent to a blocked call (pthread_kill, an itimer's SIGALRM), or to a
# child process that handles it (SIGINT, SIGTERM): POSIX.  Windows has neither
# pthread_kill nor SIGALRM, cannot interrupt a blocking socket call, and
# Popen.send_signal() there can only terminate a child.
HAVE_POSIX_SIGNALS = os.name == "posix" and hasattr(signal, "pthread_kill") and hasattr(signal, "setitimer")
requires_posix_signals = pytest.mark.skipif(
    not HAVE_POSIX_SIGNALS, reason="needs POSIX signals (pthread_kill, SIGALRM, signals to a child): not on Windows"
)

# SO_LINGER (on, 0 s): close() sends a TCP RST.  struct linger is two ints, on
# Windows two unsigned shorts.
LINGER_RESET = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)

requires_sigpipe = pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="no SIGPIPE on this platform (Windows)")


def child_signal_defaults() -> dict[str, Any]:
    """Popen keyword arguments giving a child the default SIGINT action, which a
    test run as a background job would otherwise pass on ignored (POSIX; Windows
    has no preexec_fn, and nothing to reset)."""
    if os.name != "posix":
        return {}
    return {"preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)}


# sun_path holds 108 bytes on Linux, 104 on macOS (with the NUL); the pytest
# tmp_path of a long test name on a macOS runner is longer than that.
_SUN_PATH_ROOM = 100


def unix_socket_path(directory: str | os.PathLike[str] | None = None, name: str = "s") -> str:
    """A path for a Unix socket named ``name`` in ``directory`` (a fresh temporary
    directory when there is none, or when the path would not fit in sun_path)."""
    if directory is not None:
        path = os.path.join(directory, name)
        if len(os.fsencode(path)) < _SUN_PATH_ROOM:
            return path
    return os.path.join(tempfile.mkdtemp(prefix="ffs"), name)


def readline_within(stream: IO[str], timeout: float) -> str | None:
    """``stream.readline()``, or None if no line comes within ``timeout`` seconds
    (on Windows select() waits on sockets only, not on a child's pipe)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else None


__all__ = [
    "HAVE_POSIX_SIGNALS",
    "HAVE_UNIX_SOCKETS",
    "LINGER_RESET",
    "child_signal_defaults",
    "readline_within",
    "requires_posix_signals",
    "requires_sigpipe",
    "requires_unix_sockets",
    "unix_socket_path",
]
