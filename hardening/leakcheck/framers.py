"""The framings every framer, encoder and decoder case runs through, and the
framer cases: constructing a framer (and its refusals), ``decoder()``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from fastframe._cores import Core

from .measuring import Case
from .steps import plain, raises


@dataclass(frozen=True)
class Framing:
    """One framing under test, with max_size=MAX so that oversize frames stay cheap."""

    label: str
    framer: Any
    payload: bytes
    head: bytes = b""
    # encode calls this framing refuses with ValueError: (payload, head)
    refused: tuple[tuple[bytes, bytes], ...] = ()
    # malformed streams: (label, bytes) that raise ProtocolError
    malformed: tuple[tuple[str, bytes], ...] = ()
    # constructor arguments it refuses: ValueError, then TypeError
    invalid: tuple[dict[str, Any], ...] = ()
    wrong_types: tuple[dict[str, Any], ...] = ()


MAX = 64


def framings(ff: ModuleType) -> list[Framing]:
    lp_invalid = (
        {"width": 9},
        {"byteorder": "middle"},
        {"offset": -1},
        {"strip": 9},
        {"adjustment": 2**63},
        {"max_size": 0},
    )
    lp_types = ({"width": "4"}, {"width": True}, {"max_size": 1.5})
    delimited_invalid = ({"delimiter": b""}, {"max_size": 0})
    return [
        Framing("lp4", ff.LengthPrefixed(4, max_size=MAX), b"hello world", invalid=lp_invalid, wrong_types=lp_types),
        # PostgreSQL's messages: a tag, a length that counts itself, the frame keeps both
        Framing(
            "lp-pg",
            ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=MAX),
            b"select 1",
            head=b"Q",
            refused=((b"x", b""), (b"x", b"QQ")),
            malformed=(("negative-length", b"Q\x00\x00\x00\x02"),),
        ),
        Framing(
            "lp2-le",
            ff.LengthPrefixed(2, byteorder="little", offset=2, adjustment=2, strip=3, max_size=MAX),
            b"hello world",
            head=b"HH",
            refused=((b"x", b"HH"),),  # shorter than the adjustment
        ),
        Framing(
            "delimited",
            ff.Delimited(b"\r\n", max_size=MAX),
            b"hello world",
            refused=((b"hello\r\nworld", b""),),
            invalid=delimited_invalid,
            wrong_types=({"delimiter": "\n"}, {"max_size": "1"}),
        ),
        Framing(
            "delimited-keep",
            ff.Delimited(b"END", keep=True, max_size=MAX),
            b"hello world",
            refused=((b"the END", b""),),
        ),
        Framing(
            "lines",
            ff.Lines(max_size=MAX),
            b"hello world",
            refused=((b"two\nlines", b""), (b"cr\r", b"")),
            invalid=({"max_size": -1},),
        ),
        Framing(
            "fixed",
            ff.FixedSize(8),
            b"8 bytes!",
            refused=((b"short", b""), (b"much too long", b"")),
            invalid=({"size": 0},),
            wrong_types=({"size": None},),
        ),
        Framing(
            "netstring",
            ff.Netstring(max_size=MAX),
            b"hello world",
            malformed=(
                ("no-comma", b"5:hello!"),
                ("non-digit", b"1x:"),
                ("leading-zero", b"05:hello,"),
                ("empty-length", b":"),
                ("long-length", b"1" * 21),
            ),
            invalid=({"max_size": 0},),
        ),
        Framing(
            "varint",
            ff.VarintPrefixed(max_size=MAX),
            b"hello world",
            malformed=(("too-long", b"\x80" * 11), ("overflow", b"\xff" * 9 + b"\x7f")),
            invalid=({"max_size": 0},),
        ),
    ]


def unlimited(framer: Any) -> Any:
    """The same framing without max_size: it writes the frames too large for ``framer``."""
    options = framer._options()
    if "max_size" in options:
        del options["max_size"]
    return type(framer)(**options)


def heads(framing: Framing) -> dict[str, bytes]:
    return {"head": framing.head} if framing.head else {}


def framer_cases(ff: ModuleType, core: Core, framing: Framing) -> Iterator[Case]:
    framer = framing.framer
    cls, options = type(framer), framer._options()
    bound = core.bind(framer)
    name = framing.label

    def construct() -> None:
        cls(**options)

    yield Case(f"framer/{name}/construct", "framer", lambda: plain(construct, framer=framer))
    if framing.invalid or framing.wrong_types:

        def construct_invalid() -> None:
            for bad in framing.invalid:
                raises(ValueError, cls, **{**options, **bad})
            for bad in framing.wrong_types:
                raises(TypeError, cls, **{**options, **bad})

        yield Case(f"framer/{name}/construct-invalid", "framer", lambda: plain(construct_invalid, framer=framer))
    yield Case(f"framer/{name}/decoder", "framer", lambda: plain(bound.decoder, framer=bound))
