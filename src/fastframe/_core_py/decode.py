"""Decoder: the stream machinery every framing shares (held bytes, frames of
known size collected in pieces, errors in stream order, get_buffer's window) and
the seam a transport uses.  The framings themselves are in framings.py.

Written for speed as plain Python goes: frames are sliced straight out of the
bytes handed in (one copy per frame, no per-frame buffer moves), and only the
unfinished frame at the end of a chunk is kept: as zero-copy pieces joined once
when its header gave its size, else in one bytearray.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .. import _checks, _messages
from .._limits import RECV_SIZE
from ..errors import FrameTooLarge, IncompleteFrame

if TYPE_CHECKING:
    from typing_extensions import Buffer, Self

NO_QUOTA = sys.maxsize
# the frames a run (cut_run) cuts at most, unless the framing says its frames'
# size on the wire without cutting them again (_run_wire): enough that a run's
# cost is nothing per frame, few enough that _run_wire's cut costs little
RUN = 64


def _piece(data: bytes, start: int, end: int) -> Any:
    """data[start:end] to keep: a zero-copy view when it is a good part of data,
    else a copy, so that a few held bytes never keep a big chunk alive."""
    if (end - start) * 4 >= len(data):
        return memoryview(data)[start:end]
    return data[start:end]


class Decoder:
    """Sans-IO decoder: bytes in, whole frames (``bytes``) out.

    Made by a framer's ``decoder()``.  ``feed(data)`` (or ``get_buffer()`` then
    ``buffer_updated(n)``) returns the frames the bytes complete, in order; any
    split of the stream gives the same frames.  ``eof()`` says the stream ended,
    ``buffered`` counts bytes held for an unfinished frame, ``detach()`` returns
    them.
    """

    # The stream machinery is here; subclasses (framings.py) say how one framing
    # cuts frames (_cut), what a held unfinished frame still needs (_want), where
    # an oversize frame ends (_skip_in), and what a frame's header announces
    # (_layout, _expected).  An unfinished frame whose size its header has
    # announced is kept as pieces of the chunks it arrived in and joined once,
    # when complete; anything else unfinished (a header cut short, a line without
    # its delimiter yet) is held in one bytearray.  The fields mean what the
    # compiled core's (core.pxd) of the same names do.

    __slots__ = (
        "_buf", "_scanned", "_error", "_sticky", "_skip", "_pieces", "_phead",
        "_phave", "_psize", "_ptrail", "_area", "_window_size", "_max", "_quota",
        "_rest", "_rest_pos", "_arrived", "_later", "_ahead", "_run", "_run_from", "_run_end", "_run_cut", "_run_marks",
    )

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        if cls is Decoder:  # refused before __init__ could complain of its arguments
            raise _messages.decoder_made_directly()
        return super().__new__(cls)

    def __init__(self, max_size: int) -> None:
        self._max = max_size
        self._buf = bytearray()  # the unfinished frame (or, after an error, bytes not yet cut)
        self._scanned = 0  # delimited framings: leading bytes of _buf known to hold no delimiter
        self._error: Exception | None = None  # raised by the next call
        self._sticky = False  # the error is a ProtocolError and stays
        # bytes of an oversize frame still to discard (delimited framings:
        # nonzero while discarding up to the next delimiter)
        self._skip = 0
        # a frame of known size being collected in pieces: _phead (the bytes
        # strip removes), then _phave of its _psize bytes (body and trailer)
        self._pieces: list[Any] | None = None
        self._phead = b""
        self._phave = self._psize = 0
        self._ptrail: int | None = None  # the byte that must end it
        self._area: bytearray | None = None  # get_buffer()'s memory
        self._window_size: int | None = None  # length of the last get_buffer() view
        # at most this many frames are cut per call (FramedSocket.recv cuts one, so
        # the bytes after it can still be decoded otherwise: framer switch, raw reads)
        self._quota = NO_QUOTA
        # received bytes not yet taken in, _rest[_rest_pos:]: what a cut stopped
        # by the quota left (or what adopt() took over), so that nothing else
        # is pending and a frame starts there, which cut_run() counts on
        self._rest = b""
        self._rest_pos = 0
        # what received() brought, taken in by the next cut: kept apart from
        # _rest, as an unfinished frame, an error or a skip may be pending
        self._arrived = b""
        # reads after it that came before that cut, joined on by the cut: one
        # copy however many came (a loop may read many times before the next
        # cut: uvloop does, up to high_water; adding bytes to bytes would copy
        # all that came so far at each)
        self._later: list[bytes] = []
        # a run (cut_run()): its frames not yet popped by the loop, last first
        # (None: no run), cut from _run[_run_from:_run_end], _run_cut of them
        self._ahead: list[bytes] | None = None
        self._run = b""
        self._run_from = self._run_end = self._run_cut = 0
        # what _run_wire() worked out once for the run, to answer in O(1) after
        # (buffered, and run_left_at()'s bisection, ask it again and again)
        self._run_marks: list[int] | None = None

    # -- public API ---------------------------------------------------------

    def feed(self, data: Buffer) -> list[bytes]:
        """Take in ``data``; return every frame it completes, in order.

        Errors come in stream order: a call that completes frames and then meets
        bad input returns the frames, and the next call raises the error (taking
        in its own bytes all the same).

        :raises FrameTooLarge: once per frame over ``max_size``; decoding goes on
            after that frame
        :raises ProtocolError: if the bytes break the framing; every later call
            raises it again
        :raises TypeError: if ``data`` is not bytes-like
        :raises BufferError: if ``data`` is not contiguous in memory
        """
        if type(data) is not bytes:
            data = _checks.byte_view(data).tobytes()
        self._window_size = None
        frames: list[bytes] = []
        self._consume(data, frames)
        return frames if self._error is None else self._deliver(frames)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """A writable buffer for the next bytes (``asyncio.BufferedProtocol``).

        :raises TypeError: if ``sizehint`` is not an int
        :raises OverflowError: if ``sizehint`` is above ``sys.maxsize``
        :raises MemoryError: if ``sizehint`` bytes cannot be allocated
        """
        size = sizehint if sizehint > RECV_SIZE else RECV_SIZE
        area = self._area
        if area is None or len(area) < size:
            area = self._area = bytearray(size)
        self._window_size = len(area)
        return memoryview(area)

    def _large_buffer(self, sizehint: int = -1) -> memoryview | None:
        """get_buffer()'s view into the large frame being received, if the next
        bytes go there; else None: the caller reads into memory of its own and
        hands the bytes to feed(), which keeps only the unfinished frame
        (fastframe.aio, whose connections share one read area per thread).
        Always None here: a large frame is collected in pieces of what feed()
        is given (plain Python cannot write a bytes object in place, so a
        window would save no copy)."""
        self._window_size = None
        return None

    def buffer_updated(self, nbytes: int) -> list[bytes]:
        """``nbytes`` were written at the start of the last ``get_buffer()``
        view; return every frame they complete.  Errors come in stream order,
        as from ``feed()``.

        :raises FrameTooLarge: as from ``feed()``, once per frame over ``max_size``
        :raises ProtocolError: as from ``feed()``, once the framing is broken
        :raises RuntimeError: if no ``get_buffer()`` came before it (since the
            decoder's last call)
        :raises TypeError: if ``nbytes`` is not an int
        :raises ValueError: if ``nbytes`` is negative or larger than that view
        """
        window = self._window_size
        if window is None:
            raise _messages.buffer_updated_first()
        if not 0 <= nbytes <= window:
            raise _messages.nbytes_out_of_range(window, nbytes)
        self._window_size = None
        with memoryview(self._area) as view:  # type: ignore[arg-type]
            data = view[:nbytes].tobytes()
        frames: list[bytes] = []
        self._consume(data, frames)
        return self._deliver(frames)

    @property
    def buffered(self) -> int:
        """Bytes held that are not yet a frame."""
        # (a run's frames not yet popped are still held: the loop has not returned them)
        run = self._run_wire(len(self._ahead)) if self._ahead else 0
        if self._skip:
            return run
        rest = len(self._rest) - self._rest_pos + len(self._arrived) + run
        if self._later:
            rest += sum(map(len, self._later))
        if self._pieces is not None:
            return len(self._phead) + self._phave + rest
        return len(self._buf) + rest

    def eof(self) -> list[bytes]:
        """The stream has ended: return the frames still held (normally none).

        :raises IncompleteFrame: if an unfinished frame is held (its bytes in
            ``partial``)
        :raises FrameTooLarge: if an earlier call left it pending, after the
            frames before it
        :raises ProtocolError: if the bytes broke the framing (on every call)
        """
        self._give_back()
        self._window_size = None
        frames: list[bytes] = []
        self._consume(b"", frames)
        if self._error is None and self.buffered:
            if self._pieces is not None:
                expected: int | None = len(self._phead) + self._psize
            else:
                expected = self._expected()
            if not frames:
                # not through a local: the traceback would hold it, a cycle that
                # keeps the held bytes until the garbage collector runs
                raise IncompleteFrame(self._held_bytes(), expected)
            self._error = IncompleteFrame(self._held_bytes(), expected)
        return self._deliver(frames)

    def detach(self) -> bytes:
        """Hand over every byte held and reset the decoder to its initial state.

        :raises: nothing
        """
        self._give_back()
        held = b"" if self._skip else self._held_bytes() + self._rest[self._rest_pos :] + self._gather()
        self._rest = self._arrived = b""
        self._rest_pos = 0
        self._pieces = None
        self._buf.clear()
        self._scanned = 0
        self._error = None
        self._sticky = False
        self._skip = 0
        self._window_size = None
        return held

    def __reduce_ex__(self, protocol: object) -> Any:
        # a decoder is one live stream's state (as in the compiled core, which
        # has no way to pickle its C buffers)
        raise _messages.cannot_pickle(self)

    # -- the seam: what a transport asks (as core.pxd declares for the compiled
    # core).  The twin receives bytes objects, not into an area of its own:
    # socket.recv() makes one, and cutting frames out of it by slicing is the
    # fastest plain Python gets.  received() hands one over; cut() takes frames.
    # To decode what is held otherwise (a framer switch, a raw read) a transport
    # moves the held bytes to another decoder with adopt(), once
    # ready_to_hand_over() says the old framing is done with them.
    #
    # A per-frame call (FramedSocket.recv, iteration, the aio reader's recv)
    # that asked the decoder for each frame would cost a Python call more than
    # the plain loop it competes with.  So the loop asks for a run instead:
    # cut_run() cuts the next few frames whole among the held bytes into a list
    # the loop pops, and run_taken() says the loop popped the last.  The
    # decoder keeps that list: until then its frames count as held (buffered),
    # and every other call first gives back those not popped (_give_back), as
    # if they had never been cut, so a framer switch, a raw read or detach()
    # sees the bytes the compiled core's frame-at-a-time cut would leave.

    def received(self, data: bytes) -> None:
        """``data`` arrived.  A socket's loop receives only once cut() has
        taken in everything received before; a front end that receives itself
        (fastframe._fed) may hand over more before that."""
        if self._arrived:
            self._later.append(data)
        elif self._rest_pos < len(self._rest):  # a frame starts at _rest_pos, before data
            self._arrived = self._rest[self._rest_pos :] + data
            self._rest = b""
            self._rest_pos = 0
        else:
            self._arrived = data

    def cut_run(self) -> list[bytes]:
        """A run: frames whole at the start of the held bytes, last
        first, for the loop to pop (see above); [] if none is.  It cuts from
        _rest only, where nothing else is pending (an error, a skip, an
        unfinished frame) and a frame starts; what received() brought waits
        for cut().  An error met before a first frame is now set, as if cut()
        had met it there."""
        data = self._rest
        start = self._rest_pos
        if start >= len(data):
            return []
        frames: list[bytes] = []
        end = self._cut_run(data, start, frames)
        if not frames:
            return frames
        # What the cut met after the run's last frame (an error, an oversize
        # frame to skip) is not met yet: the loop, cutting frame by frame, meets
        # it once it has returned those frames and nothing has changed the
        # framing.  (Nothing was pending before.)
        self._error = None
        self._sticky = False
        self._skip = 0
        if end < len(data):
            self._rest_pos = end
        else:  # the chunk's last frame: the run keeps the chunk, _rest does not
            self._rest = b""
            self._rest_pos = 0
        frames.reverse()
        self._ahead = frames
        self._run = data
        self._run_from = start
        self._run_end = end
        self._run_cut = len(frames)
        self._run_marks = None
        return frames

    def _cut_run(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        """cut_run()'s cut: RUN whole frames at most, into frames; return where
        the next frame starts (an error met is set, as _cut sets it)."""
        self._quota = RUN
        return self._cut(data, pos, frames)

    def run_taken(self) -> None:
        """The loop popped the run's last frame: the run (and the chunk it was cut from) is done."""
        self._ahead = None
        self._run = b""

    def run_left_at(self, limit: int) -> int:
        """The most of the run's frames that may be left unpopped with
        ``buffered`` at most ``limit`` (-1: none, the bytes after the run are
        more; with no run out, 0 or -1).  A paused reader compares the run's
        length with it, per frame, instead of asking buffered."""
        left = len(self._ahead) if self._ahead else 0
        after = self.buffered - (self._run_wire(left) if left else 0)
        if after > limit:
            return -1
        low, high = 0, left  # buffered grows with the frames left: bisect
        while low < high:
            mid = (low + high + 1) // 2
            if after + self._run_wire(mid) <= limit:
                low = mid
            else:
                high = mid - 1
        return low

    def _run_wire(self, left: int) -> int:
        """The bytes on the wire of the run's ``left`` frames not popped (the
        first ``left`` of _ahead, 0 < left <= len(_ahead)): from where each
        frame of the run starts, found once by cutting the run again a frame at
        a time."""
        starts = self._run_marks
        if starts is None:
            starts = self._run_marks = []
            pos = self._run_from
            self._quota = 1
            for _ in range(self._run_cut):
                starts.append(pos)
                pos = self._cut(self._run, pos, [])
        return self._run_end - starts[self._run_cut - left]

    def _give_back(self) -> None:
        """The run's frames not popped are held bytes again, as if never cut."""
        ahead = self._ahead
        if ahead is None:
            return
        start = self._run_end - self._run_wire(len(ahead)) if ahead else self._run_end
        run = self._run
        ahead.clear()  # the loop's list too: it pops no more of them
        self.run_taken()
        if start == self._run_end:
            return
        if self._rest is run and not self._arrived:
            self._rest_pos = start
        else:  # the run took the chunk's end, or received() moved its rest on
            self._rest = b"".join((run[start : self._run_end], self._rest[self._rest_pos :], self._gather()))
            self._rest_pos = 0
            self._arrived = b""

    def _gather(self) -> bytes:
        """_arrived, with the reads after it joined on."""
        if self._later:
            self._arrived = b"".join((self._arrived, *self._later))
            self._later.clear()
        return self._arrived

    def cut(self, quota: int) -> list[bytes]:
        """Up to quota frames of the bytes held; [] when none is whole.  Raises
        the error met before any frame."""
        return self.cut_into([], quota)

    def cut_into(self, frames: list[bytes], quota: int) -> list[bytes]:
        """cut(), adding to frames until it holds quota (an error met is raised
        only if frames stays empty, else by the next cut)."""
        ahead = self._ahead
        if ahead is not None:  # a run's frames not popped come first
            while ahead and len(frames) < quota:
                frames.append(ahead.pop())
            if ahead:
                return frames
            self.run_taken()
            if len(frames) >= quota:
                return frames
        if self._arrived:  # (then nothing is left in _rest: see received())
            data = self._gather()
            pos = 0
            self._arrived = b""
        else:
            data = self._rest
            pos = self._rest_pos
            self._rest = b""
            self._rest_pos = 0
        self._quota = quota
        self._window_size = None
        self._consume(data, frames, pos)
        return self._deliver(frames)

    def ready_to_hand_over(self, at_eof: bool) -> bool:
        """Whether adopt() may take the held bytes now.  An error met before
        them is raised first; an oversize frame being skipped is skipped first
        (False until its end has come), unless the stream has ended."""
        self._give_back()
        if self._error is not None:
            self._deliver([])  # raises it
        if self._skip and not at_eof:
            self.cut(0)
            return not self._skip
        return True

    def adopt(self, other: Decoder) -> None:
        """Take over other's held bytes, leaving other empty.  This decoder
        must hold nothing."""
        self._rest = other.detach()
        self._rest_pos = 0

    # -- the stream machinery -------------------------------------------------

    def _deliver(self, frames: list[bytes]) -> list[bytes]:
        error = self._error
        if error is None or frames:
            return frames
        if self._sticky:
            raise type(error)(*error.args)
        self._error = None
        try:
            raise error
        finally:
            del error  # else its traceback holds this frame, which holds it


    def _consume(self, data: bytes, frames: list[bytes], pos: int = 0) -> None:
        """Take in ``data[pos:]``: cut frames into ``frames`` until an error is
        met; whatever is not cut is held (or skipped, inside an oversize frame).
        Stopped by the quota, it leaves the uncut bytes as they are in _rest."""
        buf = self._buf
        n = len(data)
        while True:
            if self._skip:
                pos = self._skip_in(data, pos)
                if self._skip:
                    return
            if self._error is not None:
                if pos < n:
                    if self._pieces is not None:
                        self._stop_collecting()
                    if not buf:
                        self._scanned = 0
                    buf += memoryview(data)[pos:]
                return
            if len(frames) >= self._quota:
                if pos < n:
                    self._rest = data
                    self._rest_pos = pos
                return
            pieces = self._pieces
            if pieces is not None:
                take = self._psize - self._phave
                if take > n - pos:
                    if pos < n:
                        pieces.append(_piece(data, pos, n))
                        self._phave += n - pos
                    return
                if take:
                    pieces.append(_piece(data, pos, pos + take))
                    pos += take
                if self._ptrail is not None:
                    self._finish_trailed(frames)
                    continue
                frames.append(b"".join(pieces))  # the frame is whole: one copy
                self._pieces = None
            elif buf:
                if self._want(data, pos) > n - pos:
                    buf += memoryview(data)[pos:]
                    return
                # the held frame ends (or fails) in data: one loop cuts it and the rest
                data = b"".join((buf, data[pos:] if pos else data))
                pos = 0
                n = len(data)
                buf.clear()
                self._scanned = 0
            if pos >= n:
                return
            pos = self._cut(data, pos, frames)
            if self._error is None and len(frames) < self._quota:
                if pos < n and not self._start_collecting(data, pos):
                    buf += memoryview(data)[pos:]
                    self._scanned = n - pos  # _cut looked at all of it
                return
            # an error, or the quota: the loop's top deals with the rest

    def _held_bytes(self) -> bytes:
        if self._pieces is not None:
            return self._phead + b"".join(self._pieces)
        return bytes(self._buf)

    def _start_collecting(self, data: bytes, pos: int) -> bool:
        """If data[pos:] begins a frame whose header gives its size, go on
        collecting that frame in pieces and return True."""
        layout = self._layout(data, pos)
        if layout is None:
            return False
        self._collect(data, pos, *layout)
        return True

    def _collect(self, data: bytes, pos: int, total: int, strip: int, trail: int | None) -> None:
        """Go on collecting the frame at data[pos:] (total bytes on the wire) in pieces."""
        start = pos + strip
        n = len(data)
        self._phead = data[pos:start]
        self._pieces = [_piece(data, start, n)] if start < n else []
        self._phave = n - start
        self._psize = total - strip
        self._ptrail = trail

    def _finish_trailed(self, frames: list[bytes]) -> None:
        """The collected frame is whole: check the byte that must end it."""
        pieces = self._pieces
        assert pieces is not None
        last = pieces[-1]
        if last[-1] != self._ptrail:
            self._stop_collecting()
            self._fail(_messages.netstring_no_comma(last[-1]))
            return
        pieces[-1] = last[:-1]
        frames.append(b"".join(pieces))
        self._pieces = None

    def _stop_collecting(self) -> None:
        """Hold the frame being collected as plain held bytes again (after an
        error, bytes are taken in without being cut)."""
        self._buf += self._held_bytes()
        self._pieces = None
        self._scanned = 0

    def _oversize(self, size: int, wire: int) -> None:
        self._error = FrameTooLarge(size, self._max)
        self._skip = wire

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._sticky = True

    def _skip_in(self, data: bytes, pos: int) -> int:
        """Discard the oversize frame's bytes (held ones first); return the new pos."""
        buf = self._buf
        k = min(self._skip, len(buf))
        del buf[:k]
        self._skip -= k
        k = min(self._skip, len(data) - pos)
        self._skip -= k
        return pos + k

    def _cut(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        """Cut every whole frame of data[pos:] into frames; return where the
        first unfinished (or bad: the error is set) frame starts."""
        raise NotImplementedError

    def _want(self, data: bytes, pos: int) -> int:
        """How many bytes of ``data[pos:]`` the held frame needs before ``_cut``
        can decide it (whole frame or error) or know its size; more than there
        are if that is not yet known."""
        raise NotImplementedError

    def _layout(self, data: bytes, pos: int) -> tuple[int, int, int | None] | None:
        """(wire size, stripped head, final byte) of the frame at data[pos:] if
        its (valid) header is complete there."""
        return None

    def _expected(self) -> int | None:
        raise NotImplementedError
