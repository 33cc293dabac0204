"""The ``--framing`` and ``--max-size`` options shared by the commands.

A framing spec names a framer and its few options::

    length[:WIDTH[:ORDER]]   LengthPrefixed: WIDTH 1 to 8 bytes (default 4),
                             ORDER big or little (default big)
    lines                    Lines
    netstring                Netstring
    varint                   VarintPrefixed
    fixed:SIZE               FixedSize(SIZE)
    delimited:SEP            Delimited(SEP)

SEP is text (UTF-8) with backslash escapes for any byte: ``\\n``, ``\\r``, ``\\t``,
``\\0`` (the byte 0), ``\\\\`` and ``\\xHH``; ``delimited:\\r\\n`` cuts at CR LF.
``--max-size`` is the largest frame accepted, in bytes (all but ``fixed``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable

from ..framers import DEFAULT_MAX_SIZE, Delimited, FixedSize, Framer, LengthPrefixed, Lines, Netstring, VarintPrefixed

_KNOWN = "\\n \\r \\t \\0 \\\\ \\xHH"  # the escapes of SEP
FORMS = (
    "length[:WIDTH[:ORDER]] (WIDTH 1 to 8; ORDER big or little), lines, netstring, "
    "varint, fixed:SIZE, delimited:SEP (escapes in SEP: " + _KNOWN + ")"
)
_NO_OPTIONS = {"lines": Lines, "netstring": Netstring, "varint": VarintPrefixed}
_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\"}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.?)", re.DOTALL)


def parse_framing(spec: str, max_size: int | None = None) -> Framer:
    """The framer a spec names (see the module docstring), with ``max_size``
    (None: the library's default).  A bad spec raises ValueError naming the
    accepted forms."""
    name, colon, rest = spec.partition(":")
    options = rest.split(":") if colon else []
    size = DEFAULT_MAX_SIZE if max_size is None else max_size
    try:
        if name == "length" and len(options) <= 2:
            width = _integer("WIDTH", options[0]) if options else 4
            order = options[1] if len(options) == 2 else "big"
            # a str from the command line: LengthPrefixed refuses one that is neither order
            return LengthPrefixed(width, byteorder=order, max_size=size)  # type: ignore[arg-type]
        if name in _NO_OPTIONS and not options:
            return _NO_OPTIONS[name](max_size=size)
        if name == "fixed" and len(options) == 1:
            size = _integer("SIZE", options[0])
            if max_size is not None:
                raise ValueError(f"--max-size does not apply: its frames are {size} bytes")
            return FixedSize(size)
        if name == "delimited" and colon:
            return Delimited(unescape(rest), max_size=size)
    except ValueError as exc:
        raise ValueError(f"bad framing '{spec}': {exc}") from None
    raise ValueError(f"bad framing '{spec}': expected one of {FORMS}")


def unescape(text: str) -> bytes:
    """``text`` as bytes, its backslash escapes replaced by the bytes they name."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        # fsencode: bytes that were not valid UTF-8 on the command line come back as they were
        out += os.fsencode(text[pos : match.start()])
        code = match.group(1)
        if code.startswith("x") and len(code) == 3:
            out += bytes.fromhex(code[1:])
        elif code in _ESCAPES:
            out += _ESCAPES[code]
        else:
            raise ValueError(f"unknown escape '{match.group()}' (known: {_KNOWN})")
        pos = match.end()
    out += os.fsencode(text[pos:])
    return bytes(out)


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None


def framing_spec(spec: str) -> str:
    """``type=`` of ``--framing``: the spec itself, once it is known to be valid."""
    try:
        parse_framing(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return spec


def int_type(low: int, high: int = sys.maxsize) -> Callable[[str], int]:
    """An argparse ``type=``: an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            span = f">= {low}" if high == sys.maxsize else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"expected an integer {span}, got {text!r}")
        return value

    return parse


def add_framing_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--framing`` (default ``length``) and ``--max-size``."""
    parser.add_argument(
        "--framing",
        type=framing_spec,
        default="length",
        metavar="SPEC",
        help=f"how the stream is cut (default: length = length:4:big); one of {FORMS}",
    )
    parser.add_argument(
        "--max-size",
        type=int_type(1),
        metavar="BYTES",
        help=f"largest frame accepted (default: {DEFAULT_MAX_SIZE}); not with fixed:SIZE",
    )


def framer_from_args(args: argparse.Namespace) -> Framer:
    """The framer that ``--framing`` and ``--max-size`` ask for; ValueError when
    they do not go together."""
    return parse_framing(args.framing, args.max_size)
