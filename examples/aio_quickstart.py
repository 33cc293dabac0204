"""fastframe on asyncio: a FramedProtocol server and a FramedReader/FramedWriter
client in one program.

    python examples/aio_quickstart.py            # the default event loop
    python examples/aio_quickstart.py --uvloop   # the same code on uvloop

The server is the low layer: a ``FramedProtocol`` subclass whose
``frame_received`` is called with every whole frame.  The client is the high
layer: ``await reader.recv()`` / ``recv_many()`` and ``writer.send()`` /
``send_many()`` with ``await writer.drain()`` for flow control.
"""

from __future__ import annotations

import asyncio
import sys

import fastframe as ff
from fastframe import aio

FRAMER = ff.LengthPrefixed(4)  # [4-byte big-endian length][body]


class Upper(aio.FramedProtocol):
    """Answers every frame with the frame in upper case."""

    def frame_received(self, frame: bytes) -> None:
        self.transport.write(FRAMER.encode(frame.upper()))

    def framing_error(self, exc: ff.FastframeError) -> None:
        print(f"server: {exc!r}; closing that connection")
        super().framing_error(exc)  # aborts the connection


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Upper(FRAMER), "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]

    reader, writer = await aio.open_connection(host, port, FRAMER)
    writer.send(b"hello")
    print(await reader.recv())  # b'HELLO'

    writer.send_many([b"frame %d" % i for i in range(1000)])
    await writer.drain()
    replies: list[bytes] = []
    while len(replies) < 1000:
        replies += await reader.recv_many()  # every frame that has arrived
    print(len(replies), replies[0], replies[-1])

    writer.write_eof()  # the server's transport closes on EOF
    try:
        await reader.recv()
    except ff.ConnectionClosed as exc:
        print("closed:", exc)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    if "--uvloop" in sys.argv[1:]:
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())
