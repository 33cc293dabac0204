# Decoder: the stream machinery every framing shares (held bytes, large frames,
# errors in stream order, get_buffer's windows) and the seam a transport uses.
# The framings themselves are in framings.pxi.

cdef class _Window:
    """A writable view of the large frame's unwritten tail (for get_buffer).

    Holding ``owner`` keeps the frame's memory alive while a view exists.  While
    any window references the frame, the decoder neither resizes it nor hands it
    out: a caller writing through a view it should have dropped can then only
    scribble on memory no frame uses."""

    def __getbuffer__(self, Py_buffer* view, int flags):
        # Cython has put a new reference to None in view.obj, which
        # PyBuffer_FillInfo overwrites without releasing (a reference to None
        # leaked per view: unbounded before Python 3.12 made None immortal)
        Py_XDECREF(<PyObject*>view.obj)
        PyBuffer_FillInfo(view, self, self.ptr, self.size, 0, flags)

    def __releasebuffer__(self, Py_buffer* view):
        pass


cdef inline Py_ssize_t _still_wanted(uint64_t total, Py_ssize_t have) noexcept:
    """Bytes a held frame of ``total`` bytes on the wire still lacks: in unsigned
    64 bits, as a frame under max_size near PY_SSIZE_T_MAX may be longer than a
    Py_ssize_t can say (then as many as can be said).  0: held whole, as the
    bytes taken in after an error can be."""
    if total <= <uint64_t>have:
        return 0
    total -= <uint64_t>have
    return <Py_ssize_t>total if total < <uint64_t>PY_SSIZE_T_MAX else PY_SSIZE_T_MAX


cdef class Decoder:
    """Sans-IO decoder: bytes in, whole frames (``bytes``) out.

    Made by a framer's ``decoder()``.  ``feed(data)`` (or ``get_buffer()`` then
    ``buffer_updated(n)``) returns the frames the bytes complete, in order; any
    split of the stream gives the same frames.  ``eof()`` says the stream ended,
    ``buffered`` counts bytes held for an unfinished frame, ``detach()`` returns
    them.
    """

    # The stream machinery is here; subclasses say how one framing cuts frames
    # (_cut), what a held unfinished frame still needs (_want), where an oversize
    # frame ends (_skip_in), and what a frame's header announces (_layout,
    # _expected).

    def __cinit__(self, *args, **kwargs):
        if type(self) is Decoder:  # (a framing's decoder runs this too, with its own arguments)
            raise _messages.decoder_made_directly()
        self._quota = PY_SSIZE_T_MAX
        self._buf = _no_bytes

    def __dealloc__(self):
        self._free_buf()
        Py_XDECREF(self._large)

    # -- public API ---------------------------------------------------------

    def feed(self, data):
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
        cdef Py_buffer view
        cdef list frames = []
        self._enter()
        try:
            if PyBytes_CheckExact(data):
                self._window = NO_WINDOW
                self._consume(<const unsigned char*>PyBytes_AS_STRING(data),
                              PyBytes_GET_SIZE(data), frames)
            else:
                _get_bytes_like(data, &view)
                try:
                    self._window = NO_WINDOW
                    self._consume(<const unsigned char*>view.buf, view.len, frames)
                finally:
                    PyBuffer_Release(&view)
            # what a connection keeps between reads is its unfinished frame
            self.release_if_empty()
            return self._deliver(frames)
        finally:
            self._busy = False

    def get_buffer(self, Py_ssize_t sizehint=-1):
        """A writable buffer for the next bytes (``asyncio.BufferedProtocol``).

        :raises TypeError: if ``sizehint`` is not an int
        :raises OverflowError: if ``sizehint`` is above ``sys.maxsize``
        :raises MemoryError: if ``sizehint`` bytes cannot be allocated
        """
        cdef Py_ssize_t size
        self._enter()
        try:
            window = self._large_window(sizehint)
            if window is not None:
                return window
            size = sizehint if sizehint > RECV_SIZE else RECV_SIZE
            if self._area is None or PyByteArray_GET_SIZE(self._area) < size:
                self._area = PyByteArray_FromStringAndSize(NULL, size)
            self._window = AREA_WINDOW
            self._window_size = PyByteArray_GET_SIZE(self._area)
            return PyMemoryView_FromObject(self._area)
        finally:
            self._busy = False

    def _large_buffer(self, Py_ssize_t sizehint=-1):
        """get_buffer()'s view into the large frame being received, if the next
        bytes go there (then buffer_updated() takes them); else None: the caller
        reads into memory of its own and hands the bytes to feed(), which keeps
        only the unfinished frame (fastframe.aio, whose connections share one
        read area per thread)."""
        self._enter()
        try:
            return self._large_window(sizehint)
        finally:
            self._busy = False

    def buffer_updated(self, Py_ssize_t nbytes):
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
        cdef list frames = []
        cdef Window window = self._window
        cdef bytearray area
        self._enter()
        try:
            if window == NO_WINDOW:
                raise _messages.buffer_updated_first()
            if not 0 <= nbytes <= self._window_size:
                raise _messages.nbytes_out_of_range(self._window_size, nbytes)
            self._window = NO_WINDOW
            if window == LARGE_WINDOW:
                self._lhave += nbytes
                self._consume(_no_bytes, 0, frames)
            else:
                area = self._area
                self._consume(<const unsigned char*>PyByteArray_AS_STRING(area), nbytes, frames)
            self.release_if_empty()
            return self._deliver(frames)
        finally:
            self._busy = False

    @property
    def buffered(self):
        """Bytes held that are not yet a frame."""
        return self.held()

    cdef Py_ssize_t held(self) noexcept:
        """buffered, for a C caller: the reader asks it for every frame while
        reading is paused."""
        if self._skip:
            return 0
        if self._large != NULL:  # (held bytes then follow the big frame)
            return PyBytes_GET_SIZE(self._lhead) + self._lhave + self._bend - self._bstart
        return self._bend - self._bstart

    def eof(self):
        """The stream has ended: return the frames still held (normally none).

        :raises IncompleteFrame: if an unfinished frame is held (its bytes in
            ``partial``)
        :raises FrameTooLarge: if an earlier call left it pending, after the
            frames before it
        :raises ProtocolError: if the bytes broke the framing (on every call)
        """
        cdef list frames = []
        self._enter()
        try:
            self._window = NO_WINDOW
            self._consume(_no_bytes, 0, frames)
            if self._error is None and self.buffered:
                error = IncompleteFrame(self._held_bytes(), self._expected_wire())
                if not frames:
                    raise error
                self._error = error
            return self._deliver(frames)
        finally:
            self._busy = False

    def detach(self):
        """Hand over every byte held and reset the decoder to its initial state.

        :raises: nothing
        """
        self._enter()
        try:
            held = b"" if self._skip else self._held_bytes()
            self._drop_large()
            self._bstart = self._bend = 0
            self._scanned = 0
            self._error = None
            self._sticky = False
            self._skip = 0
            self._window = NO_WINDOW
            return held
        finally:
            self._busy = False

    # -- the seam: what a transport asks (declared in core.pxd) ----------------
    # A transport receives into receive_area(), says how much came with
    # received(), and takes frames with cut() (or cut_held_frame(), cheaper,
    # for one).  To decode what is held otherwise (a framer switch, a raw read)
    # it moves the held bytes to another decoder with adopt(), once
    # ready_to_hand_over() says the old framing is done with them.

    cdef object cut_held_frame(self):
        """The next frame if it is whole among the held bytes and nothing else
        is pending (an error, a skip, a large frame), else None: costs little
        more than the frame's bytes object.  cut() does everything else."""
        cdef Py_ssize_t used = 0
        if (self._busy or self._bend == self._bstart or self._error is not None
                or self._skip or self._large != NULL):
            return None
        self._busy = True
        try:
            frame = self._cut_one(self._buf + self._bstart, self._bend - self._bstart, &used)
            if used:
                self._drop(used)
                self._scanned = 0
        finally:
            self._busy = False
        return frame

    cdef object _cut_one(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t* used):
        """The frame at the start of p[:n] if it is whole (its wire size in used),
        else None; a framing with a quicker way to cut one frame overrides this."""
        cdef list frames = []
        self._quota = 1
        used[0] = self._cut(p, 0, n, frames)
        return frames[0] if frames else None

    cdef list cut(self, Py_ssize_t quota):
        """Up to quota frames of the bytes held; [] when none is whole.  Raises
        the error met before any frame."""
        return self.cut_into([], quota)

    cdef list cut_into(self, list frames, Py_ssize_t quota):
        """cut(), adding to frames until it holds quota (an error met is raised
        only if frames stays empty, else by the next cut)."""
        self._enter()
        try:
            self._quota = quota
            self._window = NO_WINDOW
            self._consume(_no_bytes, 0, frames)
        finally:
            self._busy = False
        return self._deliver(frames)

    cdef bint ready_to_hand_over(self, bint at_eof) except -1:
        """Whether adopt() may take the held bytes now.  An error met before
        them is raised first; an oversize frame being skipped is skipped first
        (False until its end has come), unless the stream has ended."""
        if self._error is not None:
            self._deliver([])  # raises it
        if self._skip and not at_eof:
            self.cut(0)
            return not self._skip
        return True

    cdef int adopt(self, Decoder other) except -1:
        """Take over other's held bytes (its receive buffer, without copying),
        leaving other empty.  This decoder must hold nothing."""
        other._enter()
        try:
            if other._large != NULL:
                other._unlarge()
            if other._skip:
                # what other holds is the end of an oversize frame it was
                # skipping (the stream ended inside it): not bytes to hand on,
                # as in detach()
                other._drop(other._bend - other._bstart)
            self._free_buf()
            self._buf, self._bstart, self._bend, self._bcap = (
                other._buf, other._bstart, other._bend, other._bcap)
            other._buf = _no_bytes
            other._bstart = other._bend = other._bcap = 0
            self._scanned = 0
        finally:
            other._busy = False
        return 0

    cdef bint receive_area(self, Area* area, bint second) except -1:
        """Where the next bytes go: after the held bytes, or straight into the
        large frame being filled.  False if there is nowhere (the large frame
        could not grow: the error is set, for the next cut() to raise)."""
        area.second = NULL
        area.second_size = 0
        area.large = self._large != NULL and self._error is None and not self._skip
        if area.large:
            if self._lhave == self._lcap and not self._grow_large(self._lhave + 1):
                return False
            area.first = _bytes_data(self._large) + self._lhave
            area.first_size = self._lcap - self._lhave
            area.owner = self._large
            # the frame's last bytes and the next frame's first come in one
            # call (only then: two buffers measured slower for big reads here)
            if second and self._lcap == self._lsize and area.first_size <= RECV_SIZE:
                self._room(RECV_SIZE)  # (nothing is held while a large frame fills)
                area.second = <char*>self._buf + self._bend
                area.second_size = RECV_SIZE
        else:
            self._room(RECV_SIZE)
            area.first = <char*>self._buf + self._bend
            area.first_size = RECV_SIZE
            area.owner = <PyObject*>self
        return True

    cdef int received(self, const Area* area, Py_ssize_t n) except -1:
        """n bytes were written to the area (first, then second)."""
        if not area.large:
            self._bend += n
        elif n <= area.first_size:
            self._lhave += n
        else:
            self._lhave += area.first_size
            self._bend += n - area.first_size
        return 0

    cdef int take_in(self, const unsigned char* p, Py_ssize_t n) except -1:
        """n bytes a front end received itself, held for the next cut: copied
        where a receive would have written them (the large frame's own bytes
        included, and past its end, the held bytes after it)."""
        cdef Area area
        cdef Py_ssize_t step, more
        if self._large == NULL:
            # held after the bytes held, in a buffer grown to what they need: a
            # receive's area would be RECV_SIZE per connection until its calls cut
            self._room(n)
            memcpy(self._buf + self._bend, p, n)
            self._bend += n
            return 0
        while n > 0:
            if not self.receive_area(&area, True):
                return 0  # the large frame cannot grow: the next cut raises it
            step = n if n < area.first_size else area.first_size
            memcpy(area.first, p, step)
            if step < n and area.second != NULL:
                more = n - step if n - step < area.second_size else area.second_size
                memcpy(area.second, p + step, more)
                step += more
            if step == 0:  # (receive_area always gives room: a loop here would never end)
                raise RuntimeError("the decoder gave no room for the bytes received")
            self.received(&area, step)
            p += step
            n -= step
        return 0

    cdef void release_if_empty(self) noexcept:
        """Free the receive buffer if it holds nothing.  On a non-blocking
        socket, one thread serves many connections: a buffer kept between reads
        would be memory per connection, where one freed when empty serves the
        next connection read.  feed() and buffer_updated() end with it for the
        same reason (an event loop's connections)."""
        if self._bstart == self._bend and self._large == NULL and self._window == NO_WINDOW:
            self._bstart = self._bend = 0
            self._free_buf()

    # -- the stream machinery -------------------------------------------------

    cdef int _enter(self) except -1:
        # A finalizer run by the garbage collector while frames are being cut
        # could call back into this decoder and move the memory being cut.
        if self._busy:
            raise RuntimeError("decoder used while it is busy (re-entered)")
        self._busy = True
        return 0

    cdef list _deliver(self, list frames):
        error = self._error
        if error is None or frames:
            return frames
        if self._sticky:
            raise type(error)(*error.args)
        self._error = None
        raise error

    cdef int _consume(self, const unsigned char* p, Py_ssize_t n, list frames) except -1:
        """Take in p[0:n]: cut frames into ``frames`` until an error is met;
        whatever is not cut is held (or skipped, inside an oversize frame)."""
        cdef Py_ssize_t pos = 0, want, take
        while True:
            if self._skip:
                pos = self._skip_in(p, pos, n)
                if self._skip:
                    return 0
            if self._error is not None:
                if pos < n:
                    if self._large != NULL:
                        self._unlarge()
                    if self._bend == self._bstart:
                        self._scanned = 0
                    self._hold(p + pos, n - pos)
                return 0
            if len(frames) >= self._quota:
                if pos < n:
                    if self._bend == self._bstart:
                        self._scanned = 0
                    self._hold(p + pos, n - pos)
                return 0
            if self._large != NULL:
                pos = self._fill_large(p, pos, n, frames)
                if self._large != NULL:
                    return 0
                continue
            if self._bend > self._bstart:
                want = self._want(p, pos, n)
                if want:
                    if self._start_large(self._buf + self._bstart, self._bend - self._bstart):
                        self._drop(self._bend - self._bstart)
                        continue
                    if pos >= n:
                        return 0
                    take = want if want < n - pos else n - pos
                    self._hold(p + pos, take)
                    pos += take
                    continue
                self._drop(self._cut(self._buf + self._bstart, 0, self._bend - self._bstart, frames))
                self._scanned = 0
                continue
            if pos >= n:
                return 0
            pos = self._cut(p, pos, n, frames)
            if self._error is None and len(frames) < self._quota:
                if pos < n and not self._start_large(p + pos, n - pos):
                    self._hold(p + pos, n - pos)
                    self._scanned = n - pos  # _cut looked at all of it
                return 0
            # an error, or the quota: the loop's top deals with the rest

    cdef int _hold(self, const unsigned char* p, Py_ssize_t n) except -1:
        """Append p[0:n] to the held bytes."""
        self._room(n)
        memcpy(self._buf + self._bend, p, n)
        self._bend += n
        return 0

    cdef int _room(self, Py_ssize_t n) except -1:
        """Make room for n more held bytes after the live ones (moving them to
        the front, or growing the buffer)."""
        cdef Py_ssize_t live = self._bend - self._bstart, cap
        cdef unsigned char* grown
        if n > self._bcap - self._bend:
            if self._bstart:
                memmove(self._buf, self._buf + self._bstart, live)
                self._bstart = 0
                self._bend = live
            if n > self._bcap - live:
                if n > PY_SSIZE_T_MAX // 2 - live:
                    raise MemoryError()
                cap = live + n
                if cap < 2 * self._bcap:
                    cap = 2 * self._bcap
                if cap < 256:
                    cap = 256
                grown = <unsigned char*>PyMem_Realloc(self._buf if self._bcap else NULL, cap)
                if grown == NULL:
                    raise MemoryError()
                self._buf = grown
                self._bcap = cap
        return 0

    cdef void _drop(self, Py_ssize_t n) noexcept:
        """Forget the first n held bytes."""
        self._bstart += n
        if self._bstart == self._bend:
            self._bstart = self._bend = 0
            if self._bcap > KEEP_HELD:
                self._free_buf()

    cdef void _free_buf(self) noexcept:
        """Free the buffer; the decoder then has none (it points at _no_bytes)."""
        if self._bcap:  # else it is _no_bytes, not ours
            PyMem_Free(self._buf)
            self._buf = _no_bytes
            self._bcap = 0

    cdef bytes _held_bytes(self):
        held = PyBytes_FromStringAndSize(<char*>self._buf + self._bstart, self._bend - self._bstart)
        if self._large != NULL:
            return b"".join((self._lhead, PyBytes_FromStringAndSize(
                _bytes_data(self._large), self._lhave), held))
        return held

    cdef object _expected_wire(self):
        if self._large != NULL:
            return len(self._lhead) + <object>self._lsize  # may pass PY_SSIZE_T_MAX
        return self._expected()

    cdef int _oversize(self, object size, uint64_t wire) except -1:
        self._error = FrameTooLarge(size, self._max)
        self._skip = wire
        return 0

    cdef int _fail(self, object error) except -1:
        self._error = error
        self._sticky = True
        return 0

    cdef Py_ssize_t _skip_in(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        """Discard the oversize frame's bytes (held ones first); return the new pos."""
        cdef uint64_t k = <uint64_t>(self._bend - self._bstart)
        if k > self._skip:
            k = self._skip
        self._drop(<Py_ssize_t>k)
        self._skip -= k
        k = <uint64_t>(n - pos)
        if k > self._skip:
            k = self._skip
        self._skip -= k
        return pos + <Py_ssize_t>k

    # -- large frames ---------------------------------------------------------

    cdef object _large_window(self, Py_ssize_t sizehint):
        """A view of the large frame's unwritten tail for get_buffer(), or None
        when the next bytes go elsewhere (any earlier view is then done with)."""
        cdef _Window window
        cdef Py_ssize_t size = self._lcap - self._lhave
        # The frame's last byte never goes through a window: the frame is
        # completed by buffer_updated() on the area (or by feed), when the
        # caller holds no view of it any more (see _finish_large).
        if size > self._lsize - self._lhave - 1:
            size = self._lsize - self._lhave - 1
        if (self._large == NULL or self._error is not None or self._skip
                or size <= 0 or sizehint > size):
            self._window = NO_WINDOW
            return None
        window = _Window.__new__(_Window)
        window.owner = <object>self._large
        window.ptr = _bytes_data(self._large) + self._lhave
        window.size = size
        self._window = LARGE_WINDOW
        self._window_size = size
        return PyMemoryView_FromObject(window)

    cdef bint _start_large(self, const unsigned char* p, Py_ssize_t n) except -1:
        """If p[0:n] begins a frame of LARGE_FRAME bytes or more, go on filling
        that frame in its own bytes object and return True."""
        cdef Py_ssize_t strip = 0, cap
        cdef int trail = -1
        cdef uint64_t total = 0
        if not self._layout(p, n, &total, &strip, &trail):
            return False
        if (total - <uint64_t>strip - (trail >= 0) < LARGE_FRAME
                or total - <uint64_t>strip > <uint64_t>PY_SSIZE_T_MAX):
            return False
        n -= strip
        cap = n + (n if n > RESERVE_AHEAD else RESERVE_AHEAD)
        if <uint64_t>cap > total - <uint64_t>strip:
            cap = <Py_ssize_t>(total - <uint64_t>strip)
        frame = PyBytes_FromStringAndSize(NULL, cap)
        memcpy(PyBytes_AS_STRING(frame), p + strip, n)
        self._lhead = PyBytes_FromStringAndSize(<const char*>p, strip)
        self._ltrail = trail
        self._lsize = <Py_ssize_t>(total - <uint64_t>strip)
        self._lhave = n
        self._lcap = cap
        Py_INCREF(frame)
        self._large = <PyObject*>frame
        return True

    cdef int _unlarge(self) except -1:
        """Hold the frame being collected as plain held bytes again (after an
        error, bytes are taken in without being cut)."""
        prefix = self._lhead
        after = PyBytes_FromStringAndSize(<char*>self._buf + self._bstart, self._bend - self._bstart)
        self._bstart = self._bend = 0
        self._hold(<const unsigned char*>PyBytes_AS_STRING(prefix), len(prefix))
        self._hold(<const unsigned char*>_bytes_data(self._large), self._lhave)
        self._hold(<const unsigned char*>PyBytes_AS_STRING(after), len(after))
        self._drop_large()
        self._scanned = 0
        return 0

    cdef void _drop_large(self) noexcept:
        Py_XDECREF(self._large)
        self._large = NULL
        self._lhead = None

    cdef Py_ssize_t _fill_large(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        cdef Py_ssize_t take = self._lsize - self._lhave
        if take > n - pos:
            take = n - pos
        if take:
            if self._lhave + take > self._lcap and not self._grow_large(self._lhave + take):
                return pos
            memcpy(_bytes_data(self._large) + self._lhave, p + pos, take)
            self._lhave += take
            pos += take
        if self._lhave == self._lsize:
            self._finish_large(frames)
        return pos

    cdef bint _grow_large(self, Py_ssize_t need) except -1:
        """Room for need bytes, reserving at most max(RESERVE_AHEAD, need) more.
        Out of memory, the frame is lost: MemoryError, and its rest is skipped."""
        cdef Py_ssize_t cap = need + (need if need > RESERVE_AHEAD else RESERVE_AHEAD)
        cdef PyObject* grown
        if cap > self._lsize or cap < need:
            cap = self._lsize
        try:
            if _refcnt(self._large) == 1:
                _PyBytes_Resize(&self._large, cap)  # sets _large to NULL on failure
            else:  # a get_buffer() view still holds it: move to a new object
                frame = PyBytes_FromStringAndSize(NULL, cap)
                memcpy(PyBytes_AS_STRING(frame), _bytes_data(self._large), self._lhave)
                Py_INCREF(frame)
                grown = <PyObject*>frame
                Py_DECREF(<object>self._large)
                self._large = grown
        except MemoryError as error:
            self._skip = <uint64_t>(self._lsize - self._lhave)
            self._error = error
            self._drop_large()
            return False
        self._lcap = cap
        return True

    cdef int _finish_large(self, list frames) except -1:
        cdef unsigned char last
        cdef Py_ssize_t size = self._lsize
        if self._ltrail >= 0:
            last = <unsigned char>_bytes_data(self._large)[size - 1]
            if last != self._ltrail:
                self._unlarge()
                self._fail(_messages.netstring_no_comma(last))
                return 0
            size -= 1
        if _refcnt(self._large) > 1:  # a get_buffer() window is alive: hand out a copy
            frame = PyBytes_FromStringAndSize(_bytes_data(self._large), size)
        else:
            if size != self._lsize:
                _PyBytes_Resize(&self._large, size)  # shrinking: in place
            frame = <object>self._large
        self._drop_large()
        frames.append(frame)
        return 0

    # -- what each framing provides (see core.pxd) ------------------------------

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        raise NotImplementedError

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        raise NotImplementedError

    cdef bint _layout(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* total, Py_ssize_t* strip,
        int* trail
    ) except -1:
        return False

    cdef object _expected(self):
        raise NotImplementedError
