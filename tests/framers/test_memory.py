"""A header may announce far more than will ever arrive: the decoder's memory must
follow the bytes that arrived, not the header.  Each implementation runs in a
subprocess whose address space is capped (RLIMIT_AS) at 1 GiB more than it uses
at start: reserving what a 4 GiB (or larger) header announces fails there with
MemoryError."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import fastframe as ff
from tests.support.children import MEMORY_CAPPED_CHILD

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")

SCRIPT = MEMORY_CAPPED_CHILD + textwrap.dedent(
    """
    import os, resource, sys

    import fastframe as ff
    from fastframe.errors import IncompleteFrame

    chunk = bytes(range(256)) * 256  # 64 KiB
    BODY = 8 * MiB


    def run(framer, header, expected, via, first=0):
        dec = core.decoder(framer)
        arrived = 0
        pieces = [header + chunk[:first]] + [chunk] * ((BODY - first) // len(chunk))
        for piece in pieces:
            if via == "feed":
                frames = dec.feed(piece)
            else:
                view = dec.get_buffer(len(piece))
                view[: len(piece)] = piece
                del view
                frames = dec.buffer_updated(len(piece))
            arrived += len(piece)
            assert frames == [], frames
            assert dec.buffered == arrived, (dec.buffered, arrived)
        try:
            dec.eof()
        except IncompleteFrame as exc:
            assert len(exc.partial) == arrived and exc.partial[: len(header)] == header
            assert exc.expected == expected, (exc.expected, expected)
        else:
            raise AssertionError("eof() inside the frame did not raise IncompleteFrame")
        assert dec.detach()[: len(header)] == header
        assert dec.buffered == 0


    cases = [
        (ff.LengthPrefixed(4, max_size=2**32), b"\\xff\\xff\\xff\\xff", 4 + 2**32 - 1),
        (ff.LengthPrefixed(4, byteorder="little", offset=1, adjustment=-4, strip=0, max_size=2**32),
         b"Q\\xff\\xff\\xff\\xff", 1 + 2**32 - 1),
        (ff.LengthPrefixed(8, max_size=2**62), (2**62).to_bytes(8, "big"), 8 + 2**62),
        (ff.LengthPrefixed(8, max_size=2**40), (2**40).to_bytes(8, "big"), 8 + 2**40),
        (ff.FixedSize(2**32), b"", 2**32),
        (ff.Netstring(max_size=2**40), b"%d:" % 2**40, len(b"%d:" % 2**40) + 2**40 + 1),
        (ff.VarintPrefixed(max_size=2**40), b"\\x80\\x80\\x80\\x80\\x80\\x20", 6 + 2**40),
    ]
    for framer, header, expected in cases:
        for via in ("feed", "get_buffer"):
            for first in (0, 1000):  # the header alone, or with body bytes in the same call
                run(framer, header, expected, via, first)
    grown = vm("VmPeak") - start
    assert grown < 256 * MiB, f"address space grew by {grown / MiB:.0f} MiB"
    print("ok", sys.argv[1])
    """
)


def test_lying_headers_reserve_nothing_ahead(impl: Any) -> None:
    env = dict(os.environ)
    src = str(Path(ff.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, impl.module.__name__],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["ok", impl.module.__name__]
