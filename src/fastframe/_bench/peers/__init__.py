"""The receive loops fastframe is compared with, one module per peer.

Each reads one connection of ``[4-byte big-endian length][body]`` frames until the
peer closes it and makes each frame a ``bytes`` object (what fastframe hands out).
A stream that ends inside a frame raises ``EOFError`` (``incomplete``).

* ``howto``: the splitter of the Socket Programming HOWTO's pattern.
* ``best_python``: the fastest splitter and ``encode_many`` we can write in Python.
* ``streams``: asyncio streams, ``readexactly`` twice per frame.
* ``anyio_handwritten``: anyio's ``BufferedByteReceiveStream``, ``receive_exactly``
  twice per frame, on asyncio or trio.
"""

from __future__ import annotations

CHUNK = 64 * 1024  # bytes asked of each recv() by the chunked loops


def incomplete(nbytes: int) -> EOFError:
    return EOFError(f"the stream ended inside a frame ({nbytes} bytes of it received)")
