"""Framed blocking and non-blocking sockets: ``FramedSocket`` and ``connect()``.

``FramedSocket`` is the selected core's class (the receive loop runs in C on the
socket's descriptor in the compiled core); this module adds the ways to make one.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

from ._core import impl

FramedSocket = impl.FramedSocket

__all__ = ["FramedSocket", "connect"]


def connect(address: Any, framer: Any, timeout: float | None = None) -> FramedSocket:
    """Connect to ``address`` and frame the connection with ``framer``.

    ``(host, port)`` connects over TCP (IPv4 or IPv6, as the name resolves); a
    ``str``, ``bytes`` or path-like address is an AF_UNIX socket path (an
    ``OSError`` with ``errno.EAFNOSUPPORT`` where there are none: Windows).
    ``timeout`` becomes the socket's timeout: a deadline for each later call too.
    """
    if isinstance(address, (str, bytes, os.PathLike)):
        if not hasattr(socket, "AF_UNIX"):  # Windows' Python has no AF_UNIX
            raise OSError(errno.EAFNOSUPPORT, "AF_UNIX sockets are not available on this platform")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(os.fspath(address))
        except BaseException:
            sock.close()
            raise
    else:
        sock = socket.create_connection(address, timeout)
        sock.settimeout(timeout)
    try:
        return FramedSocket(sock, framer)
    except BaseException:
        sock.close()
        raise
