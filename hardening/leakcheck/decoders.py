"""The decoder cases: ``feed`` (whole, split, many frames, other buffers),
``get_buffer``/``buffer_updated`` and their misuse, ``buffered``, ``eof``,
``detach``; frames too large, large frames built in place, malformed streams."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from fastframe._cores import Core

from .framers import MAX, Framing, heads, unlimited
from .measuring import Case, Setup, Step
from .steps import equal, plain, raises


def decode_cases(ff: ModuleType, core: Core, framing: Framing) -> Iterator[Case]:
    framer = framing.framer
    codec = core.codec(framer)
    bound = core.bind(framer)
    wire = bound.encode(framing.payload, **heads(framing))
    (frame,) = codec.decoder().feed(wire)
    partial = wire[:-1]
    name = f"decode/{framing.label}"

    def with_decoder(make_step: Callable[[Any], Step], **tracked: object) -> Callable[[], Setup]:
        def setup() -> Setup:
            dec = codec.decoder()
            return plain(make_step(dec), decoder=dec, codec=codec, wire=wire, **tracked)

        return setup

    def feed_whole(dec: Any) -> Step:
        return lambda: equal(dec.feed(wire), [frame])

    def feed_partial(dec: Any) -> Step:
        cut = len(wire) // 2
        first, second = wire[:cut], wire[cut:]

        def step() -> None:
            equal(dec.feed(first), [])
            equal(dec.feed(second), [frame])

        return step

    many = wire * 32

    def feed_many(dec: Any) -> Step:
        return lambda: equal(len(dec.feed(many)), 32)

    as_bytearray, as_view = bytearray(wire), memoryview(wire)

    def feed_buffers(dec: Any) -> Step:
        def step() -> None:
            equal(dec.feed(as_bytearray), [frame])
            equal(dec.feed(as_view), [frame])

        return step

    def get_buffer(dec: Any) -> Step:
        def step() -> None:
            view = dec.get_buffer(-1)
            view[: len(wire)] = wire
            equal(dec.buffer_updated(len(wire)), [frame])

        return step

    def misuse(dec: Any) -> Step:
        def step() -> None:
            raises(RuntimeError, dec.buffer_updated, 1)
            view = dec.get_buffer(16)
            raises(ValueError, dec.buffer_updated, len(view) + 1)
            raises(ValueError, dec.buffer_updated, -1)
            equal(dec.buffer_updated(0), [])

        return step

    def buffered(dec: Any) -> Step:
        dec.feed(partial)
        return lambda: equal(dec.buffered, len(partial))

    def eof_clean(dec: Any) -> Step:
        def step() -> None:
            equal(dec.feed(wire), [frame])
            equal(dec.eof(), [])

        return step

    def eof_incomplete(dec: Any) -> Step:
        def step() -> None:
            dec.feed(partial)
            raises(ff.IncompleteFrame, dec.eof)
            equal(dec.detach(), partial)

        return step

    def detach(dec: Any) -> Step:
        def step() -> None:
            dec.feed(partial)
            equal(dec.detach(), partial)

        return step

    yield Case(f"{name}/feed-whole", "decode", with_decoder(feed_whole))
    yield Case(f"{name}/feed-partial", "decode", with_decoder(feed_partial))
    yield Case(f"{name}/feed-many", "decode", with_decoder(feed_many, many=many))
    yield Case(f"{name}/feed-buffers", "decode", with_decoder(feed_buffers, ba=as_bytearray, mv=as_view))
    yield Case(f"{name}/get_buffer", "decode", with_decoder(get_buffer))
    yield Case(f"{name}/buffer_updated-misuse", "decode", with_decoder(misuse))
    yield Case(f"{name}/buffered", "decode", with_decoder(buffered))
    yield Case(f"{name}/eof-clean", "decode", with_decoder(eof_clean))
    yield Case(f"{name}/eof-incomplete", "decode", with_decoder(eof_incomplete, partial=partial))
    yield Case(f"{name}/detach", "decode", with_decoder(detach, partial=partial))

    if not isinstance(framer, ff.FixedSize):  # (its max_size is its size: never too large)
        big = unlimited(bound).encode(b"x" * (3 * MAX), **heads(framing))
        stream = big + wire
        cut = len(big) // 2  # past the point where the frame is known to be too large

        def too_large(dec: Any) -> Step:
            def step() -> None:
                raises(ff.FrameTooLarge, dec.feed, stream)
                equal(dec.feed(b""), [frame])

            return step

        def too_large_split(dec: Any) -> Step:
            first, rest = stream[:cut], stream[cut:]

            def step() -> None:
                raises(ff.FrameTooLarge, dec.feed, first)
                equal(dec.feed(rest), [frame])

            return step

        def too_large_buffer(dec: Any) -> Step:
            def step() -> None:
                view = dec.get_buffer(len(stream))
                view[: len(stream)] = stream
                raises(ff.FrameTooLarge, dec.buffer_updated, len(stream))
                equal(dec.feed(b""), [frame])

            return step

        yield Case(f"{name}/feed-too-large", "decode", with_decoder(too_large, stream=stream))
        yield Case(f"{name}/feed-too-large-split", "decode", with_decoder(too_large_split, stream=stream))
        yield Case(f"{name}/get_buffer-too-large", "decode", with_decoder(too_large_buffer, stream=stream))

    if not isinstance(framer, ff.FixedSize):
        big_framer = unlimited(bound)
        if isinstance(framer, ff.LengthPrefixed) and framer.width < 4:  # the largest its field says
            large_size = 2 ** (8 * framer.width) - 1 + framer.adjustment
        else:
            large_size = 200_000
        large_wire = big_framer.encode(bytes(large_size), **heads(framing))
        large_frame = big_framer.decoder().feed(large_wire)[0]

        def get_buffer_large(dec: Any) -> Step:
            # frames of LARGE_FRAME bytes or more are written straight into their bytes object
            def step() -> None:
                pos = 0
                frames: list[bytes] = []
                while pos < len(large_wire):
                    view = dec.get_buffer(-1)
                    n = min(len(view), len(large_wire) - pos)
                    view[:n] = large_wire[pos : pos + n]
                    del view
                    frames += dec.buffer_updated(n)
                    pos += n
                equal(frames, [large_frame])

            return step

        def setup_large() -> Setup:
            dec = core.decoder(big_framer)
            return plain(get_buffer_large(dec), decoder=dec, framer=big_framer, wire=large_wire)

        yield Case(f"{name}/get_buffer-large", "decode", setup_large)

    for label, bad in framing.malformed:

        def protocol_error(dec: Any, bad: bytes = bad) -> Step:
            def step() -> None:
                equal(dec.feed(wire + bad), [frame])  # the error comes with the next call
                raises(ff.ProtocolError, dec.feed, b"")
                raises(ff.ProtocolError, dec.feed, wire)  # and stays
                dec.detach()

            return step

        yield Case(f"{name}/protocol-error-{label}", "decode", with_decoder(protocol_error, bad=bad))
