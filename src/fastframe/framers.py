"""Framers: immutable value objects saying how a byte stream is cut into frames.

They validate and hold the options; the cutting itself is done by a codec of the
selected core (``fastframe._core_c`` or its twin ``fastframe._core_py``), bound
once at construction: each framer class names its codec class (``_codec_in``).
"""

from __future__ import annotations

import functools
import operator
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from . import _core, _limits

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from ._core_py import Decoder

__all__ = [
    "DEFAULT_MAX_SIZE",
    "Delimited",
    "FixedSize",
    "Framer",
    "LengthPrefixed",
    "Lines",
    "Netstring",
    "VarintPrefixed",
]

DEFAULT_MAX_SIZE = _limits.DEFAULT_MAX_SIZE
_INT64 = 2**63


def _int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None


def _size(name: str, value: object) -> int:
    size = _int(name, value)
    if not 1 <= size <= sys.maxsize:
        raise ValueError(f"{name} must be between 1 and {sys.maxsize}, got {size}")
    return size


class Framer:
    """Base class of the framers: hashable, comparable, with a repr showing every option."""

    __slots__ = ("_codec", "_core")
    _fields: ClassVar[tuple[str, ...]]
    _codec: Any
    _core: ModuleType  # the core the codec is from


    def _freeze(self, **options: object) -> None:
        for name, value in options.items():
            object.__setattr__(self, name, value)
        self._bind(_core.impl)

    def _bind(self, core: ModuleType) -> None:
        object.__setattr__(self, "_codec", self._codec_in(core))
        object.__setattr__(self, "_core", core)

    def _codec_in(self, core: ModuleType) -> Any:
        """This framer's codec in ``core`` (``fastframe._core_c`` or
        ``fastframe._core_py``: their codec classes have the same names)."""
        raise NotImplementedError

    def _bound_to(self, core: ModuleType) -> Framer:
        """An equal framer whose decoders and encoders are the given core's (tests
        and benchmarks run both cores in one process)."""
        twin = functools.partial(type(self), **self._options())()
        twin._bind(core)
        return twin

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _options(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self._fields}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._options() == other._options()

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._options().values())))

    def __reduce__(self) -> tuple[Callable[[], Framer], tuple[()]]:
        return functools.partial(type(self), **self._options()), ()

    def decoder(self) -> Decoder:
        """A new sans-IO decoder for this framing.

        :raises: nothing
        """
        return self._codec.decoder()  # type: ignore[no-any-return]

    def encode(self, payload: Buffer) -> bytes:
        """One payload as one frame on the wire.

        :raises TypeError: if ``payload`` is not bytes-like
        :raises BufferError: if ``payload`` is not contiguous in memory
        :raises FrameTooLarge: if the frame would exceed ``max_size``, or its
            length does not fit ``LengthPrefixed``'s length field
        :raises ValueError: if the framing cannot carry ``payload``: it contains
            ``Delimited``'s delimiter, it is a line that ends with ``b"\\r"``,
            it is not ``FixedSize``'s size, or it is shorter than
            ``LengthPrefixed``'s ``adjustment`` allows
        """
        return self._codec.encode(payload)  # type: ignore[no-any-return]

    def encode_many(self, payloads: Iterable[Buffer]) -> bytes:
        """Several payloads as consecutive frames, in one bytes object.  Every
        payload is checked first: if one is refused, nothing is encoded.

        :raises TypeError: if ``payloads`` is not iterable, or one of them is
            not bytes-like
        :raises BufferError: if a payload is not contiguous in memory
        :raises FrameTooLarge: if a frame would be too large, as for ``encode()``
        :raises ValueError: if the framing cannot carry a payload, as for
            ``encode()``
        """
        return self._codec.encode_many(payloads)  # type: ignore[no-any-return]


class LengthPrefixed(Framer):
    """Frames that start with a binary length field.

    On the wire: ``[offset bytes][length field: width bytes][body]``, where the body
    is ``field value + adjustment`` bytes long.  The frame returned is the wire
    frame without its first ``strip`` bytes (default: offset + width, the body).

    :raises TypeError: if ``width``, ``offset``, ``adjustment``, ``strip`` or
        ``max_size`` is not an int (a bool is refused too)
    :raises ValueError: if an option is out of range: ``width`` not 1 to 8,
        ``byteorder`` neither ``"big"`` nor ``"little"``, ``offset`` negative
        (or above ``sys.maxsize // 2``), ``adjustment`` beyond +-(2**63 - 1),
        ``strip`` not within 0 to ``offset + width``, ``max_size`` below 1 (or
        above ``sys.maxsize``)
    """

    __slots__ = ("width", "byteorder", "offset", "adjustment", "strip", "max_size")
    _fields = __slots__
    width: int
    byteorder: Literal["big", "little"]
    offset: int
    adjustment: int
    strip: int
    max_size: int

    def __init__(
        self,
        width: int = 4,
        *,
        byteorder: Literal["big", "little"] = "big",
        offset: int = 0,
        adjustment: int = 0,
        strip: int | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        width = _int("width", width)
        if not 1 <= width <= 8:
            raise ValueError(f"width must be between 1 and 8 bytes, got {width}")
        if byteorder not in ("big", "little"):
            raise ValueError(f"byteorder must be 'big' or 'little', got {byteorder!r}")
        offset = _int("offset", offset)
        if not 0 <= offset <= sys.maxsize // 2:
            raise ValueError(f"offset must be between 0 and {sys.maxsize // 2}, got {offset}")
        adjustment = _int("adjustment", adjustment)
        if not -_INT64 < adjustment < _INT64:
            raise ValueError(f"adjustment must be within +-(2**63 - 1), got {adjustment}")
        header = offset + width
        strip = header if strip is None else _int("strip", strip)
        if not 0 <= strip <= header:
            raise ValueError(f"strip must be between 0 and offset + width = {header}, got {strip}")
        self._freeze(
            width=width,
            byteorder=byteorder,
            offset=offset,
            adjustment=adjustment,
            strip=strip,
            max_size=_size("max_size", max_size),
        )

    def _codec_in(self, core: ModuleType) -> Any:
        return core.LengthPrefixedCodec(self)

    def encode(self, payload: Buffer, *, head: Buffer = b"") -> bytes:
        """The body ``payload`` as one frame; ``head`` is the ``offset`` bytes before
        the length field (a message type, for instance).

        :raises TypeError: if ``payload`` or ``head`` is not bytes-like
        :raises BufferError: if ``payload`` or ``head`` is not contiguous in memory
        :raises ValueError: if ``head`` is not exactly ``offset`` bytes, or
            ``payload`` is shorter than a positive ``adjustment`` allows
        :raises FrameTooLarge: if the frame would exceed ``max_size``, or the
            body's length does not fit the length field
        """
        return self._codec.encode(payload, head)  # type: ignore[no-any-return]

    def encode_many(self, payloads: Iterable[Buffer], *, head: Buffer = b"") -> bytes:
        """Several bodies as consecutive frames, each after the same ``head``.
        Every payload is checked first: if one is refused, nothing is encoded.

        :raises TypeError: if ``payloads`` is not iterable, or ``head`` or one
            of them is not bytes-like
        :raises BufferError: if ``head`` or a payload is not contiguous in memory
        :raises ValueError: as for ``encode()``, for ``head`` or any payload
        :raises FrameTooLarge: as for ``encode()``, for any payload
        """
        return self._codec.encode_many(payloads, head)  # type: ignore[no-any-return]


class Delimited(Framer):
    """Frames that end with ``delimiter`` (returned with it when ``keep``).

    :raises TypeError: if ``delimiter`` is not bytes-like, or ``max_size`` is
        not an int
    :raises ValueError: if ``delimiter`` is empty, or ``max_size`` is below 1 or above
        ``sys.maxsize``
    """

    __slots__ = ("delimiter", "max_size", "keep")
    _fields = __slots__
    _strip_cr: ClassVar[bool] = False
    delimiter: bytes
    max_size: int
    keep: bool

    def __init__(
        self, delimiter: Buffer = b"\n", *, max_size: int = DEFAULT_MAX_SIZE, keep: bool = False
    ) -> None:
        try:
            delimiter = memoryview(delimiter).tobytes()
        except TypeError:
            raise TypeError(
                f"delimiter must be bytes-like, not {type(delimiter).__name__}"
            ) from None
        if not delimiter:
            raise ValueError("delimiter must not be empty")
        self._freeze(delimiter=delimiter, max_size=_size("max_size", max_size), keep=bool(keep))

    def _codec_in(self, core: ModuleType) -> Any:
        return core.DelimitedCodec(self)


class _SizeBound(Framer):
    """A framer whose one option is ``max_size``."""

    __slots__ = ("max_size",)
    _fields = __slots__
    max_size: int

    def __init__(self, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._freeze(max_size=_size("max_size", max_size))


class Lines(_SizeBound):
    """Frames that end with ``b"\\n"``; one ``b"\\r"`` before it is removed too.

    :raises TypeError: if ``max_size`` is not an int
    :raises ValueError: if ``max_size`` is below 1 or above ``sys.maxsize``
    """

    __slots__ = ()
    _strip_cr: ClassVar[bool] = True
    delimiter: ClassVar[bytes] = b"\n"
    keep: ClassVar[bool] = False

    def _codec_in(self, core: ModuleType) -> Any:
        return core.DelimitedCodec(self)


class FixedSize(Framer):
    """Frames of exactly ``size`` bytes.

    :raises TypeError: if ``size`` is not an int
    :raises ValueError: if ``size`` is below 1 or above ``sys.maxsize``
    """

    __slots__ = ("size",)
    _fields = __slots__
    size: int

    def __init__(self, size: int) -> None:
        self._freeze(size=_size("size", size))

    def _codec_in(self, core: ModuleType) -> Any:
        return core.FixedSizeCodec(self)

    @property
    def max_size(self) -> int:
        return self.size


class Netstring(_SizeBound):
    """Netstrings: ``b"5:hello,"`` carries the frame ``b"hello"``.

    :raises TypeError: if ``max_size`` is not an int
    :raises ValueError: if ``max_size`` is below 1 or above ``sys.maxsize``
    """

    __slots__ = ()

    def _codec_in(self, core: ModuleType) -> Any:
        return core.NetstringCodec(self)


class VarintPrefixed(_SizeBound):
    """Frames after a base-128 varint length (protobuf's delimited messages).

    :raises TypeError: if ``max_size`` is not an int
    :raises ValueError: if ``max_size`` is below 1 or above ``sys.maxsize``
    """

    __slots__ = ()

    def _codec_in(self, core: ModuleType) -> Any:
        return core.VarintPrefixedCodec(self)


def check_framer(framer: object) -> None:
    """What FramedSocket, fastframe.aio and fastframe.anyio take as a framer."""
    if isinstance(framer, Framer):
        return
    if isinstance(framer, type) and issubclass(framer, Framer):
        raise TypeError(
            f"framer must be a framer object, not the class {framer.__name__}: "
            f"call it with its options, e.g. fastframe.{framer.__name__}({_EXAMPLE_ARGUMENTS.get(framer.__name__, '')})"
        )
    raise TypeError(
        f"framer must be a fastframe framer, e.g. fastframe.LengthPrefixed(4) or fastframe.Lines(), "
        f"not {type(framer).__name__} {framer!r:.60}"
    )


# what the TypeError above shows as a framer's call: one with a required argument
_EXAMPLE_ARGUMENTS = {"LengthPrefixed": "4", "FixedSize": "16"}
