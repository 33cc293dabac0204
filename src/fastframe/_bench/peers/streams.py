"""Peer: asyncio streams, as an asyncio program reads length-prefixed frames today.

``asyncio.open_connection(sock=...)``, then per frame ``await reader.readexactly(4)``
and ``await reader.readexactly(size)``.  It runs on whichever event loop runs it
(the default one, or uvloop), in the clear or, given ``ssl=`` and
``server_hostname=``, over TLS.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from . import incomplete


async def read(sock: socket.socket, keep: list[bytes] | None = None, **tls: Any) -> int:
    """Frames received until the peer closes; each appended to ``keep`` if given.
    ``tls``: ``ssl=`` and ``server_hostname=`` for ``asyncio.open_connection``."""
    reader, writer = await asyncio.open_connection(sock=sock, **tls)
    readexactly = reader.readexactly
    frames = 0
    try:
        while True:
            try:
                header = await readexactly(4)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise incomplete(len(exc.partial)) from None
                break
            try:
                frame = await readexactly(int.from_bytes(header, "big"))
            except asyncio.IncompleteReadError as exc:
                raise incomplete(4 + len(exc.partial)) from None
            if keep is not None:
                keep.append(frame)
            frames += 1
    finally:
        writer.close()
    return frames
