"""The encoder scenario: a framer, a head (mostly of the right size) and a few
payloads, some right at or just over the limits, as bytes, bytearray or memoryview.
Both cores must give the same bytes or the same exception, ``encode_many`` what the
``encode`` calls give together, and what they emit must decode to the payload."""

from __future__ import annotations

import fastframe as ff
from fastframe.errors import FrameTooLarge
from tests.support.calls import encode_outcome
from tests.support.wire import frame_of

from .choices import Choices
from .cores import CORES, TWIN
from .decoder import Call, outcome_of
from .findings import Finding
from .framing import make_framer, payload


def encoder_scenario(c: Choices) -> None:
    framer = make_framer(c)
    offset = getattr(framer, "offset", 0)
    head = c.bytes(offset if c.int(0, 7) else c.int(0, 4))
    bodies = []
    for _ in range(c.int(0, 4)):
        if c.one_in(4):  # right at and just over the limits
            n = c.pick((framer.max_size, framer.max_size + 1, 255, 256, 65535, 65536))
            bodies.append(b"x" * min(n, 70000))
        else:
            bodies.append(payload(c, framer))
    as_type = c.pick((bytes, bytearray, memoryview))
    what = f"{framer!r}, head={head!r}, payloads of {[len(b) for b in bodies]} bytes as {as_type.__name__}"
    singles = []
    for body in bodies:
        results = [encode_outcome(core, framer, "encode", as_type(body), as_type(head)) for core in CORES]
        if results[0] != results[-1]:
            raise Finding(
                f"encode({body[:60]!r}) differs: {what}\ncompiled: {results[0]!r}\ntwin: {results[-1]!r}"[:4000]
            )
        result = results[-1]
        if result[0] == "error" and result[1] not in (ValueError, FrameTooLarge):
            raise Finding(f"encode({body[:60]!r}) raised {result[1].__name__}{result[2]}: {what}")
        if result[0] == "ok":
            dec = TWIN.decoder(framer)
            got = (outcome_of(dec, Call("feed", result[1])), outcome_of(dec, Call("eof")))
            want = (("frames", [frame_of(framer, body, result[1])]), ("frames", []))
            if got != want:
                raise Finding(f"encode({body[:60]!r}) = {result[1][:80]!r} decodes as {got!r}: {what}"[:4000])
        singles.append(result)
    for make in (list, iter):
        results = [
            encode_outcome(core, framer, "encode_many", make([as_type(b) for b in bodies]), head) for core in CORES
        ]
        if results[0] != results[-1]:
            raise Finding(f"encode_many differs: {what}\ncompiled: {results[0]!r}\ntwin: {results[-1]!r}"[:4000])
        failed = [s for s in singles if s[0] == "error"]
        # all payloads checked before any is encoded: the first bad one's error, else the concatenation
        want = failed[0] if failed else ("ok", b"".join(s[1] for s in singles))
        if not bodies and isinstance(framer, ff.LengthPrefixed) and len(head) != offset:
            continue  # no payload to encode: whether a bad head alone is refused is not specified
        if results[-1] != want:
            raise Finding(f"encode_many gives {results[-1]!r:.300}, the encode calls {want!r:.300}: {what}")
