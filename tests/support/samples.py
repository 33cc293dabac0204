"""Fixed samples of framers, for the tests that run every framing end to end."""

from __future__ import annotations

import fastframe as ff

# one framer of each kind and a spread of LengthPrefixed options
FRAMERS = [
    ff.LengthPrefixed(4),
    ff.LengthPrefixed(8, byteorder="little"),
    ff.LengthPrefixed(1, adjustment=2, strip=0),
    ff.LengthPrefixed(2, byteorder="little", offset=2, adjustment=-3, strip=1),
    ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0),  # PostgreSQL
    ff.LengthPrefixed(3, adjustment=6, strip=0),  # HTTP/2 frames: the whole 9-byte header kept
    ff.Lines(),
    ff.Delimited(b"<END>"),
    ff.Delimited(b"\r\n\r\n", keep=True),
    ff.FixedSize(7),
    ff.Netstring(),
    ff.VarintPrefixed(),
]
