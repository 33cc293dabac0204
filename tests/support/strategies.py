"""Hypothesis strategies: framers with random options, payloads (mostly valid, at
times over max_size or holding the delimiter), streams of good, oversize and
garbage frames, and the ways a stream can be cut into decoder calls."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import fastframe as ff

from .calls import Buffer, Detach, Eof, Feed, Op, split
from .wire import delimiter_of, expect, oversize_frame

# The ``impl`` fixture is function-scoped but immutable, so sharing it between
# hypothesis examples is safe.
IMPL_SETTINGS = settings(
    suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.function_scoped_fixture]
)

DELIMITER_ALPHABET = b"ab\r\n"


def max_sizes(low: int = 1, high: int = 40) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, high), st.just(ff.DEFAULT_MAX_SIZE))


@st.composite
def length_prefixed(draw: st.DrawFn, max_size: st.SearchStrategy[int] | None = None) -> Any:
    width = draw(st.integers(1, 8))
    offset = draw(st.integers(0, 3))
    header = offset + width
    return ff.LengthPrefixed(
        width,
        byteorder=draw(st.sampled_from(["big", "little"])),
        offset=offset,
        adjustment=draw(st.one_of(st.integers(-3, 3), st.sampled_from([-header, -width]))),
        strip=draw(st.one_of(st.none(), st.integers(0, header))),
        max_size=draw(max_sizes() if max_size is None else max_size),
    )


@st.composite
def delimited(draw: st.DrawFn, max_size: st.SearchStrategy[int] | None = None) -> Any:
    delimiter = draw(
        st.one_of(
            st.lists(st.sampled_from(DELIMITER_ALPHABET), min_size=1, max_size=4).map(bytes),
            st.binary(min_size=1, max_size=3),
            # periodic delimiters: where a payload's tail can straddle into them
            st.tuples(
                st.lists(st.sampled_from(b"ab"), min_size=1, max_size=2).map(bytes), st.integers(2, 3)
            ).map(lambda t: t[0] * t[1]),
        )
    )
    return ff.Delimited(
        delimiter,
        max_size=draw(max_sizes() if max_size is None else max_size),
        keep=draw(st.booleans()),
    )


def framers(max_size: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Any]:
    sizes = max_sizes() if max_size is None else max_size
    return st.one_of(
        length_prefixed(sizes),
        delimited(sizes),
        sizes.map(lambda m: ff.Lines(max_size=m)),
        st.integers(1, 12).map(ff.FixedSize),
        sizes.map(lambda m: ff.Netstring(max_size=m)),
        st.one_of(sizes, st.integers(100, 300)).map(lambda m: ff.VarintPrefixed(max_size=m)),
    )


def payloads(framer: Any, extra: int = 3) -> st.SearchStrategy[bytes]:
    """Payloads for ``framer``: mostly valid, a few bytes over max_size at times."""
    if isinstance(framer, ff.FixedSize):
        return st.binary(min_size=framer.size, max_size=framer.size)
    longest = min(framer.max_size, 300 if isinstance(framer, ff.VarintPrefixed) else 40) + extra
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        delim = delimiter_of(framer)
        alphabet = sorted(set(delim + b"x\r"))
        body = st.lists(st.sampled_from(alphabet), max_size=longest).map(bytes)
        # often end with a proper prefix of the delimiter: the straddling case
        return st.one_of(
            body,
            st.tuples(body, st.integers(1, max(len(delim) - 1, 1))).map(lambda t: t[0] + delim[: t[1]]),
            # pieces of the delimiter itself
            st.tuples(st.integers(0, len(delim)), st.integers(0, len(delim))).map(lambda t: delim[t[0] : t[1]]),
        )
    return st.binary(max_size=longest)


def heads(framer: Any) -> st.SearchStrategy[bytes]:
    offset = framer.offset if isinstance(framer, ff.LengthPrefixed) else 0
    return st.binary(min_size=offset, max_size=offset)


@st.composite
def segments(draw: st.DrawFn, framer: Any) -> bytes:
    """One piece of a stream: a well-formed frame, an oversize one, or garbage."""
    kind = draw(st.sampled_from(["frame", "frame", "frame", "oversize", "garbage"]))
    if kind == "frame":
        payload = draw(payloads(framer, extra=0))
        outcome = expect(framer, payload, draw(heads(framer)))
        if outcome.ok:
            return outcome.wire  # type: ignore[return-value]
        return b""
    if kind == "oversize":
        n = framer.max_size + draw(st.integers(1, 20))
        if framer.max_size < 1000:
            return oversize_frame(framer, n)
        if not isinstance(framer, (ff.Delimited, ff.Lines, ff.FixedSize)):
            # a header announcing too much, then a few of its bytes
            return oversize_frame(framer, n, body=draw(st.integers(0, 30)))
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        alphabet = sorted(set(delimiter_of(framer) + b"x\r"))
        return bytes(draw(st.lists(st.sampled_from(alphabet), max_size=12)))
    if isinstance(framer, ff.Netstring):
        return bytes(draw(st.lists(st.sampled_from(b"0123456789:,x"), max_size=8)))
    if isinstance(framer, ff.VarintPrefixed):
        return bytes(draw(st.lists(st.sampled_from([0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xFF]), max_size=12)))
    return draw(st.binary(max_size=12))


@st.composite
def streams(draw: st.DrawFn, framer: Any) -> bytes:
    return b"".join(draw(st.lists(segments(framer), max_size=8)))


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at random points: anything from one chunk to one byte per chunk."""
    if data and draw(st.integers(0, 7)) == 0:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=12))
    return split(data, cuts)


@st.composite
def ops_for(draw: st.DrawFn, data: bytes, *, extra: bool = False) -> list[Op]:
    """``data`` as a sequence of feed / get_buffer+buffer_updated calls (and, with
    ``extra``, an occasional eof() or detach() in between)."""
    out: list[Op] = []
    for chunk in draw(chunkings(data)):
        if draw(st.booleans()):
            out.append(Feed(chunk))
        else:
            hints = [len(chunk), len(chunk) + draw(st.integers(1, 100))]
            if len(chunk) <= 1:
                hints += [-1, 0]
            out.append(Buffer(chunk, draw(st.sampled_from(hints))))
        if extra and draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from([Eof(), Detach()])))
    return out
