"""Frames over a real socket pair: encode on one side, decode on the other.

Run it: python examples/quickstart.py
"""

import socket

import fastframe as ff

print(f"fastframe {ff.__version__}, {ff.IMPLEMENTATION} core")

framer = ff.LengthPrefixed(4)  # 4-byte big-endian length, then the body
a, b = socket.socketpair()
payloads = [b"hello", b"", b"world" * 1000]
a.sendall(framer.encode_many(payloads))
a.close()

decoder = framer.decoder()
frames = []
while chunk := b.recv(7):  # tiny reads on purpose: frames span many of them
    frames += decoder.feed(chunk)
decoder.eof()  # raises IncompleteFrame if the peer stopped mid-frame
b.close()
assert frames == payloads
print(f"{len(frames)} frames received, {sum(map(len, frames))} bytes, none lost")

# A lying header is refused before anything is allocated for it.
try:
    ff.LengthPrefixed(4).decoder().feed(b"\xff\xff\xff\xff")
except ff.FrameTooLarge as error:
    print(f"refused: {error}")
