"""Framers as value objects: construction, validation, repr/eq/hash/pickle,
immutability, the package constants and the FASTFRAME_PURE_PYTHON switch."""

from __future__ import annotations

import copy
import importlib.util
import os
import pickle
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

import pytest

import fastframe as ff
from fastframe._switch import VARIABLE, pure_python_requested

FRAMERS = [
    ff.LengthPrefixed(),
    ff.LengthPrefixed(1),
    ff.LengthPrefixed(2, byteorder="little"),
    ff.LengthPrefixed(8, byteorder="little", offset=2, adjustment=-3, strip=1, max_size=99),
    ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0),
    ff.Delimited(),
    ff.Delimited(b"\r\n", max_size=10, keep=True),
    ff.Delimited(b"\x00"),
    ff.Lines(),
    ff.Lines(max_size=7),
    ff.FixedSize(1),
    ff.FixedSize(12),
    ff.Netstring(),
    ff.Netstring(max_size=5),
    ff.VarintPrefixed(),
    ff.VarintPrefixed(max_size=300),
]
IDS = [repr(f) for f in FRAMERS]


class Index:
    """Not an int, but usable as one (operator.index)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


# -- construction -----------------------------------------------------------------------


def test_default_max_size_is_16_mib() -> None:
    assert ff.DEFAULT_MAX_SIZE == 16 * 1024 * 1024


def test_length_prefixed_defaults() -> None:
    f = ff.LengthPrefixed()
    assert (f.width, f.byteorder, f.offset, f.adjustment, f.strip, f.max_size) == (
        4,
        "big",
        0,
        0,
        4,
        16 * 1024 * 1024,
    )


@pytest.mark.parametrize(
    ("width", "offset", "strip", "resolved"),
    [(1, 0, None, 1), (2, 3, None, 5), (8, 1, None, 9), (4, 1, 0, 0), (4, 1, 5, 5), (2, 2, 3, 3)],
)
def test_length_prefixed_strip_resolves_to_header_size(
    width: int, offset: int, strip: int | None, resolved: int
) -> None:
    assert ff.LengthPrefixed(width, offset=offset, strip=strip).strip == resolved


def test_other_defaults() -> None:
    d = ff.Delimited()
    assert (d.delimiter, d.keep, d.max_size) == (b"\n", False, 16 * 1024 * 1024)
    assert ff.Lines().max_size == 16 * 1024 * 1024
    assert ff.Netstring().max_size == 16 * 1024 * 1024
    assert ff.VarintPrefixed().max_size == 16 * 1024 * 1024
    assert ff.FixedSize(7).size == 7
    assert ff.FixedSize(7).max_size == 7


@pytest.mark.parametrize("delimiter", [bytearray(b"\r\n"), memoryview(b"\r\n"), b"\r\n"])
def test_delimiter_is_stored_as_bytes(delimiter: Any) -> None:
    f = ff.Delimited(delimiter)
    assert type(f.delimiter) is bytes
    assert f.delimiter == b"\r\n"
    assert f == ff.Delimited(b"\r\n")


def test_index_like_integers_are_accepted_and_stored_as_int() -> None:
    f = ff.LengthPrefixed(Index(2), offset=Index(1), adjustment=Index(-1), strip=Index(0), max_size=Index(9))
    assert (f.width, f.offset, f.adjustment, f.strip, f.max_size) == (2, 1, -1, 0, 9)
    assert all(type(v) is int for v in (f.width, f.offset, f.adjustment, f.strip, f.max_size))
    assert ff.FixedSize(Index(3)).size == 3


@pytest.mark.parametrize("framer", FRAMERS, ids=IDS)
def test_every_framer_is_a_framer_with_codec_methods(framer: Any) -> None:
    assert isinstance(framer, ff.Framer)
    first, second = framer.decoder(), framer.decoder()
    assert first is not second
    payload = b"z" * (framer.size if isinstance(framer, ff.FixedSize) else 2)
    if isinstance(framer, ff.LengthPrefixed):
        wire = framer.encode(payload, head=b"h" * framer.offset)
    else:
        wire = framer.encode(payload)
    assert first.feed(wire[:-1]) == []
    assert first.buffered == len(wire) - 1
    assert second.buffered == 0
    assert second.feed(wire) == [framer.decoder().feed(wire)[0]]
    assert first.buffered == len(wire) - 1


# -- validation -------------------------------------------------------------------------

INVALID_VALUES = [
    # width not in 1..8
    (ff.LengthPrefixed, (0,), {}),
    (ff.LengthPrefixed, (9,), {}),
    (ff.LengthPrefixed, (16,), {}),
    (ff.LengthPrefixed, (-4,), {}),
    # unknown byteorder
    (ff.LengthPrefixed, (), {"byteorder": "network"}),
    (ff.LengthPrefixed, (), {"byteorder": "BIG"}),
    (ff.LengthPrefixed, (), {"byteorder": ""}),
    # negative offset
    (ff.LengthPrefixed, (), {"offset": -1}),
    # strip outside 0..offset+width
    (ff.LengthPrefixed, (), {"strip": -1}),
    (ff.LengthPrefixed, (4,), {"strip": 5}),
    (ff.LengthPrefixed, (2,), {"offset": 1, "strip": 4}),
    (ff.LengthPrefixed, (8,), {"offset": 3, "strip": 12}),
    # sizes < 1
    (ff.LengthPrefixed, (), {"max_size": 0}),
    (ff.LengthPrefixed, (), {"max_size": -1}),
    (ff.Delimited, (), {"max_size": 0}),
    (ff.Lines, (), {"max_size": 0}),
    (ff.Lines, (), {"max_size": -100}),
    (ff.FixedSize, (0,), {}),
    (ff.FixedSize, (-3,), {}),
    (ff.Netstring, (), {"max_size": 0}),
    (ff.VarintPrefixed, (), {"max_size": 0}),
    # empty delimiter
    (ff.Delimited, (b"",), {}),
    (ff.Delimited, (bytearray(),), {}),
]


@pytest.mark.parametrize(("cls", "args", "kwargs"), INVALID_VALUES)
def test_invalid_values_raise_value_error(cls: type, args: tuple, kwargs: dict) -> None:
    with pytest.raises(ValueError) as info:
        cls(*args, **kwargs)
    assert not isinstance(info.value, ff.FastframeError)  # a plain argument error


@pytest.mark.parametrize(
    "good",
    [
        lambda: ff.LengthPrefixed(4, offset=2, strip=0),
        lambda: ff.LengthPrefixed(4, offset=2, strip=6),
        lambda: ff.LengthPrefixed(1, max_size=1),
        lambda: ff.FixedSize(1),
        lambda: ff.Lines(max_size=1),
        lambda: ff.Delimited(b"\x00" * 64, max_size=1),
        lambda: ff.LengthPrefixed(8, adjustment=-(2**40)),
    ],
)
def test_boundary_values_are_accepted(good: Any) -> None:
    assert isinstance(good(), ff.Framer)


INVALID_TYPES = [
    (ff.LengthPrefixed, ("4",), {}),
    (ff.LengthPrefixed, (4.0,), {}),
    (ff.LengthPrefixed, (True,), {}),
    (ff.LengthPrefixed, (), {"offset": "1"}),
    (ff.LengthPrefixed, (), {"offset": 1.0}),
    (ff.LengthPrefixed, (), {"adjustment": 0.5}),
    (ff.LengthPrefixed, (), {"strip": 1.5}),
    (ff.LengthPrefixed, (), {"max_size": "10"}),
    (ff.LengthPrefixed, (), {"max_size": None}),
    (ff.LengthPrefixed, (4, "big"), {}),  # byteorder is keyword-only
    (ff.Delimited, ("\n",), {}),  # str is not bytes
    (ff.Delimited, (None,), {}),
    (ff.Delimited, (5,), {}),  # an int is not a delimiter (bytes(5) would be 5 NULs)
    (ff.Delimited, (b"\n", 10), {}),  # max_size is keyword-only
    (ff.Delimited, (), {"max_size": 2.5}),
    (ff.Lines, (10,), {}),  # keyword-only
    (ff.Lines, (), {"max_size": 1.0}),
    (ff.FixedSize, ("3",), {}),
    (ff.FixedSize, (None,), {}),
    (ff.FixedSize, (False,), {}),
    (ff.Netstring, (), {"max_size": "5"}),
    (ff.VarintPrefixed, (), {"max_size": 5.0}),
]


@pytest.mark.parametrize(("cls", "args", "kwargs"), INVALID_TYPES)
def test_invalid_types_raise_type_error(cls: type, args: tuple, kwargs: dict) -> None:
    with pytest.raises(TypeError):
        cls(*args, **kwargs)


# -- repr / eq / hash / pickle / immutability ---------------------------------------------


@pytest.mark.parametrize("framer", FRAMERS, ids=IDS)
def test_repr_shows_every_option_and_evaluates_back(framer: Any) -> None:
    text = repr(framer)
    assert text.startswith(type(framer).__name__ + "(")
    names = {
        ff.LengthPrefixed: ("width", "byteorder", "offset", "adjustment", "strip", "max_size"),
        ff.Delimited: ("delimiter", "max_size", "keep"),
        ff.Lines: ("max_size",),
        ff.FixedSize: ("size",),
        ff.Netstring: ("max_size",),
        ff.VarintPrefixed: ("max_size",),
    }[type(framer)]
    for name in names:
        assert f"{name}={getattr(framer, name)!r}" in text
    assert eval(text, vars(ff)) == framer  # noqa: S307 - our own repr


def test_repr_examples() -> None:
    assert repr(ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0)) == (
        "LengthPrefixed(width=4, byteorder='big', offset=1, adjustment=-4, strip=0, max_size=16777216)"
    )
    assert "strip=3" in repr(ff.LengthPrefixed(2, offset=1))  # resolved, not None
    assert repr(ff.Delimited(b"\r\n", max_size=10, keep=True)) == (
        "Delimited(delimiter=b'\\r\\n', max_size=10, keep=True)"
    )
    assert repr(ff.FixedSize(3)) == "FixedSize(size=3)"
    assert repr(ff.Lines(max_size=5)) == "Lines(max_size=5)"


@pytest.mark.parametrize("framer", FRAMERS, ids=IDS)
def test_equal_framers_hash_alike(framer: Any) -> None:
    twin = eval(repr(framer), vars(ff))  # noqa: S307
    assert twin is not framer
    assert twin == framer
    assert not (twin != framer)  # noqa: SIM202 - __ne__ itself is under test
    assert hash(twin) == hash(framer)
    assert {framer: 1}[twin] == 1


def test_framers_differ_by_every_option() -> None:
    base = ff.LengthPrefixed(2, offset=1, adjustment=1, strip=1, max_size=50)
    variants = [
        ff.LengthPrefixed(4, offset=1, adjustment=1, strip=1, max_size=50),
        ff.LengthPrefixed(2, byteorder="little", offset=1, adjustment=1, strip=1, max_size=50),
        ff.LengthPrefixed(2, offset=2, adjustment=1, strip=1, max_size=50),
        ff.LengthPrefixed(2, offset=1, adjustment=2, strip=1, max_size=50),
        ff.LengthPrefixed(2, offset=1, adjustment=1, strip=2, max_size=50),
        ff.LengthPrefixed(2, offset=1, adjustment=1, strip=1, max_size=51),
    ]
    for other in variants:
        assert other != base
    assert len({base, *variants}) == 7
    assert ff.Delimited(b"\n") != ff.Delimited(b"\r\n")
    assert ff.Delimited(b"\n") != ff.Delimited(b"\n", keep=True)
    assert ff.Delimited(b"\n") != ff.Delimited(b"\n", max_size=5)
    assert ff.FixedSize(3) != ff.FixedSize(4)
    assert ff.Netstring(max_size=3) != ff.Netstring(max_size=4)
    assert ff.VarintPrefixed(max_size=3) != ff.VarintPrefixed(max_size=4)
    assert ff.Lines(max_size=3) != ff.Lines(max_size=4)


def test_resolved_strip_compares_equal() -> None:
    assert ff.LengthPrefixed(2, offset=1) == ff.LengthPrefixed(2, offset=1, strip=3)
    assert hash(ff.LengthPrefixed(2, offset=1)) == hash(ff.LengthPrefixed(2, offset=1, strip=3))


def test_different_kinds_are_never_equal() -> None:
    assert ff.Lines() != ff.Delimited(b"\n")
    assert ff.Netstring(max_size=5) != ff.VarintPrefixed(max_size=5)
    assert ff.FixedSize(5) != ff.Netstring(max_size=5)
    assert ff.LengthPrefixed() != 4
    assert not (ff.LengthPrefixed() == "LengthPrefixed()")  # noqa: SIM201 - __eq__ itself
    assert len(set(FRAMERS)) == len(FRAMERS)


@pytest.mark.parametrize("framer", FRAMERS, ids=IDS)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(framer: Any, protocol: int) -> None:
    clone = pickle.loads(pickle.dumps(framer, protocol))
    assert type(clone) is type(framer)
    assert clone == framer
    assert repr(clone) == repr(framer)
    assert hash(clone) == hash(framer)


@pytest.mark.parametrize("framer", FRAMERS, ids=IDS)
def test_copies_work(framer: Any) -> None:
    for clone in (copy.copy(framer), copy.deepcopy(framer), pickle.loads(pickle.dumps(framer))):
        assert clone == framer
        # the clone's codec works: a frame survives encode -> decode
        payload = b"z" * (framer.size if isinstance(framer, ff.FixedSize) else 3)
        if isinstance(framer, ff.LengthPrefixed):
            wire = clone.encode(payload, head=b"h" * framer.offset)
        else:
            wire = clone.encode(payload)
        assert len(clone.decoder().feed(wire)) == 1


@pytest.mark.parametrize("framer", FRAMERS, ids=IDS)
def test_decoders_and_codecs_do_not_pickle(impl: Any, framer: Any) -> None:
    """A decoder is one live stream's state and a codec a core's object: neither
    pickles nor copies, on either core (framers do, above)."""
    codec = impl.codec(framer)
    decoder = codec.decoder()
    decoder.feed(b"7")  # holding an unfinished frame, as a live one would
    for obj in (decoder, codec):
        for copier in (pickle.dumps, copy.copy, copy.deepcopy):
            with pytest.raises(TypeError, match=r"^cannot pickle '.+' object$"):
                copier(obj)


def test_the_offset_limit_is_named() -> None:
    limit = sys.maxsize // 2
    assert ff.LengthPrefixed(offset=limit).offset == limit
    with pytest.raises(ValueError, match=rf"^offset must be between 0 and {limit}, got {limit + 1}$"):
        ff.LengthPrefixed(offset=limit + 1)


@pytest.mark.parametrize("framer", FRAMERS, ids=IDS)
def test_framers_are_immutable(framer: Any) -> None:
    name = "size" if isinstance(framer, ff.FixedSize) else "max_size"
    before = repr(framer)
    with pytest.raises(AttributeError):
        setattr(framer, name, 1)
    with pytest.raises(AttributeError):
        delattr(framer, name)
    with pytest.raises(AttributeError):
        framer.some_new_attribute = 1
    assert repr(framer) == before


# -- the implementation switch ----------------------------------------------------------


def test_implementation_constant() -> None:
    assert ff.IMPLEMENTATION in ("cython", "python")
    assert ("python" if pure_python_requested() else "cython") == ff.IMPLEMENTATION


def test_public_api_uses_the_implementation_picked_at_import() -> None:
    module = {"cython": "fastframe._core_c.core", "python": "fastframe._core_py.framings"}[ff.IMPLEMENTATION]
    for framer in FRAMERS:
        assert type(framer.decoder()).__module__ == module


def test_public_names() -> None:
    for name in (
        "LengthPrefixed",
        "Delimited",
        "Lines",
        "FixedSize",
        "Netstring",
        "VarintPrefixed",
        "Framer",
        "FastframeError",
        "FrameTooLarge",
        "ProtocolError",
        "ConnectionClosed",
        "IncompleteFrame",
        "IMPLEMENTATION",
        "DEFAULT_MAX_SIZE",
    ):
        assert name in ff.__all__
        assert hasattr(ff, name)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("On", True),
        ("0", False),
        ("", False),
        ("false", False),
        ("no", False),
        ("OFF", False),
    ],
)
def test_switch_parses_values(value: str, expected: bool) -> None:
    assert pure_python_requested({VARIABLE: value}) is expected


def test_switch_unset_means_compiled() -> None:
    assert pure_python_requested({}) is False


@pytest.mark.parametrize("value", ["maybe", "2", "yes please", "-1"])
def test_switch_rejects_other_values(value: str) -> None:
    with pytest.raises(ValueError, match=VARIABLE):
        pure_python_requested({VARIABLE: value})


SCRIPT = (
    "import fastframe as ff\n"
    "print(ff.IMPLEMENTATION)\n"
    "print(type(ff.Lines().decoder()).__module__)\n"
)


def compiled_core_built() -> bool:
    """Whether the compiled core's extension is here (its package's __init__
    imports it, so a missing one is an ImportError there)."""
    try:
        return importlib.util.find_spec("fastframe._core_c.core") is not None
    except ImportError:
        return False


def run_import(value: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop(VARIABLE, None)
    if value is not None:
        env[VARIABLE] = value
    src = str(Path(ff.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("value", ["1", "true", "Yes", "on"])
def test_switch_on_selects_python(value: str) -> None:
    result = run_import(value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["python", "fastframe._core_py.framings"]


@pytest.mark.parametrize("value", [None, "", "0", "false", "off"])
def test_switch_off_selects_cython(value: str | None) -> None:
    result = run_import(value)
    compiled_expected = not pure_python_requested() or compiled_core_built()
    if compiled_expected:
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["cython", "fastframe._core_c.core"]
    elif importlib.util.find_spec("fastframe._build") is not None:
        # A package built with the switch set (the py3-none-any wheel) knows it
        # has only the twin: it selects it with no switch at run time.
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["python", "fastframe._core_py.framings"]
    else:
        # This run has only the Python twin: importing without the switch must
        # fail loudly, never fall back silently.
        assert result.returncode != 0
        assert "fastframe._core_c" in result.stderr
        assert "ImportError" in result.stderr or "ModuleNotFoundError" in result.stderr


def package_copy(root: Path, case: str) -> None:
    """fastframe copied into ``root`` without its compiled core ("missing"), with
    a file that is no extension in its place ("broken"), or with the core of a
    fastframe whose modules differ ("stale": one it imports is gone)."""
    patterns = ["__pycache__", "_build.py"]
    if case != "stale":
        patterns += [f"*{suffix}" for suffix in EXTENSION_SUFFIXES]
    package = root / "fastframe"
    shutil.copytree(Path(ff.__file__).resolve().parent, package, ignore=shutil.ignore_patterns(*patterns))
    if case == "broken":
        (package / "_core_c" / f"core{EXTENSION_SUFFIXES[0]}").write_bytes(b"not an extension module")
    elif case == "stale":
        (package / "_waiting.py").unlink()  # imported by the compiled core only, first of all


@pytest.mark.parametrize(
    ("case", "what"),
    [
        ("missing", "is missing: this installation has none built for this Python"),
        ("broken", "failed to import (ImportError, chained above): it does not match this fastframe or this Python"),
        pytest.param(
            "stale",
            "failed to import (ImportError, chained above): it does not match this fastframe or this Python",
            marks=pytest.mark.skipif(not compiled_core_built(), reason="no compiled core here to import"),
        ),
    ],
)
def test_a_compiled_core_that_does_not_import_says_what_to_do(tmp_path: Path, case: str, what: str) -> None:
    """Without the switch, importing fastframe whose compiled core is missing or
    does not import fails, saying which and what to do; the core's own error is
    chained (a stale core's spoke of a "partially initialized module ... (most
    likely due to a circular import)")."""
    package_copy(tmp_path, case)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    env.pop(VARIABLE, None)
    result = subprocess.run(
        [sys.executable, "-c", "import fastframe"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    last = result.stderr.rstrip().splitlines()[-1]
    assert last == (
        f"ImportError: fastframe's compiled core (fastframe._core_c.core) {what}. Reinstall fastframe "
        f"(a wheel for this Python, or a build with a C compiler), or set {VARIABLE}=1 to use the pure-Python core."
    ), result.stderr
    assert str(tmp_path / "fastframe") in result.stderr  # the copy, not the fastframe under test
    if case != "missing":
        assert "The above exception was the direct cause of the following exception" in result.stderr


def test_switch_bad_value_fails_at_import() -> None:
    result = run_import("maybe")
    assert result.returncode != 0
    assert "ValueError" in result.stderr
    assert VARIABLE in result.stderr


# -- what the front ends take as a framer ---------------------------------------------------------


def _front_ends(impl: Any) -> dict[str, Any]:
    """Each front end's constructor, given only a framer (it checks the framer first)."""
    import socket

    from fastframe import aio
    from fastframe.anyio import FramedStream

    def framed_socket(framer: Any) -> None:
        with socket.socket() as sock:
            impl.FramedSocket(sock, framer)

    return {"FramedSocket": framed_socket, "aio.FramedProtocol": aio.FramedProtocol, "anyio.FramedStream": lambda f: FramedStream(None, f)}


@pytest.mark.parametrize(("cls", "call"), [(ff.LengthPrefixed, "fastframe.LengthPrefixed(4)"), (ff.FixedSize, "fastframe.FixedSize(16)"), (ff.Lines, "fastframe.Lines()")])
def test_a_framer_class_for_a_framer_says_to_call_it(impl: Any, cls: Any, call: str) -> None:
    for name, make in _front_ends(impl).items():
        with pytest.raises(TypeError) as info:
            make(cls)
        message = str(info.value)
        assert f"not the class {cls.__name__}" in message and f"call it with its options, e.g. {call}" in message, (name, message)


@pytest.mark.parametrize("wrong", ["lines", None, 4])
def test_something_else_for_a_framer_names_what_it_got_and_what_a_framer_is(impl: Any, wrong: Any) -> None:
    for name, make in _front_ends(impl).items():
        with pytest.raises(TypeError) as info:
            make(wrong)
        message = str(info.value)
        assert f"not {type(wrong).__name__} {wrong!r}" in message, (name, message)
        assert "e.g. fastframe.LengthPrefixed(4) or fastframe.Lines()" in message, (name, message)
