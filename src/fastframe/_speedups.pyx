# cython: language_level=3, embedsignature=True, autotestdict=False, auto_pickle=False
"""The compiled core: the same classes and behaviour as ``_purepython``, in C.

Frames are cut straight out of the caller's buffer (one PyBytes per frame, nothing
else allocated per frame); only the unfinished frame at the end of a chunk is
copied into the decoder's own buffer.  A frame of LARGE_FRAME bytes or more is
built in its final bytes object as its bytes arrive, so it is copied only once.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_FillInfo, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.memoryview cimport PyMemoryView_FromObject
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from cpython.sequence cimport PySequence_Fast, PySequence_Fast_GET_SIZE, PySequence_Fast_ITEMS
from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport EINTR, errno
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memchr, memcmp, memcpy, memmove, strerror

from socket import SHUT_RDWR as _SHUT_RDWR, SHUT_WR as _SHUT_WR

from . import _checks, _limits, _messages, _sending, _waiting
from .errors import ConnectionClosed, FrameTooLarge, IncompleteFrame

cdef extern from "Python.h":
    # resizes a bytes object nobody else references; on failure frees it
    int _PyBytes_Resize(PyObject** bytes, Py_ssize_t newsize) except -1
    Py_ssize_t _refcnt "Py_REFCNT"(PyObject* o)
    char* _bytes_data "PyBytes_AS_STRING"(PyObject* o)
    const Py_ssize_t PY_SSIZE_T_MAX

IMPLEMENTATION = "cython"

cdef enum:
    RECV_SIZE = 64 * 1024
    LARGE_FRAME = 64 * 1024
    RESERVE_AHEAD = 1024 * 1024
    VARINT_MAX = 10
    NETSTRING_DIGITS = 20
    # a held buffer this big is freed once it empties, rather than kept
    KEEP_HELD = 256 * 1024

# A decoder holding nothing points here, and so does a call with no bytes, never
# at NULL: NULL plus an offset is undefined behaviour in C, even an offset of 0
# (UBSan reports it).
cdef unsigned char _no_bytes[1]

# what the last get_buffer() view points into
cdef enum Window:
    NO_WINDOW
    AREA_WINDOW
    LARGE_WINDOW

assert (RECV_SIZE, LARGE_FRAME, RESERVE_AHEAD, VARINT_MAX, NETSTRING_DIGITS) == (
    _limits.RECV_SIZE, _limits.LARGE_FRAME, _limits.RESERVE_AHEAD, _limits.VARINT_MAX,
    _limits.NETSTRING_DIGITS,
)


# -- byte order: loads and stores by shifts (no unaligned casts) ----------------

cdef enum Field:
    U8, BE16, LE16, BE32, LE32, BE64, LE64


cdef inline uint64_t _load(const unsigned char* p, Field field) noexcept nogil:
    if field == BE32:
        return (<uint64_t>p[0] << 24) | (<uint64_t>p[1] << 16) | (<uint64_t>p[2] << 8) | p[3]
    if field == U8:
        return p[0]
    if field == BE16:
        return (<uint64_t>p[0] << 8) | p[1]
    if field == LE16:
        return (<uint64_t>p[1] << 8) | p[0]
    if field == LE32:
        return (<uint64_t>p[3] << 24) | (<uint64_t>p[2] << 16) | (<uint64_t>p[1] << 8) | p[0]
    cdef uint64_t v = 0
    cdef int i
    if field == BE64:
        for i in range(8):
            v = (v << 8) | p[i]
    else:
        for i in range(7, -1, -1):
            v = (v << 8) | p[i]
    return v


cdef inline void _store(unsigned char* p, uint64_t v, int width, bint big) noexcept nogil:
    cdef int i
    for i in range(width):
        p[width - 1 - i if big else i] = <unsigned char>(v >> (8 * i))


cdef inline Py_ssize_t _find(
    const unsigned char* h, Py_ssize_t n, const unsigned char* d, Py_ssize_t dl
) noexcept nogil:
    """Index of the first d[0:dl] in h[0:n], or -1."""
    cdef const unsigned char* s = h
    cdef const unsigned char* last
    if n < dl:
        return -1
    if dl == 1:
        s = <const unsigned char*>memchr(h, d[0], n)
        return -1 if s == NULL else s - h
    last = h + n - dl
    while s <= last:
        s = <const unsigned char*>memchr(s, d[0], last - s + 1)
        if s == NULL:
            return -1
        if memcmp(s + 1, d + 1, dl - 1) == 0:
            return s - h
        s += 1
    return -1


cdef inline Py_ssize_t _straddle(
    const unsigned char* held, Py_ssize_t have, const unsigned char* p, Py_ssize_t n,
    const unsigned char* d, Py_ssize_t dl
) noexcept nogil:
    """Bytes of p that finish a delimiter begun in the last bytes of held, or 0."""
    cdef Py_ssize_t k = dl - 1 if dl - 1 < have else have
    while k > 0:  # the longest held part starts earliest
        if n >= dl - k and memcmp(held + have - k, d, k) == 0 and memcmp(p, d + k, dl - k) == 0:
            return dl - k
        k -= 1
    return 0


@cython.final
cdef class _Window:
    """A writable view of the large frame's unwritten tail (for get_buffer).

    Holding ``owner`` keeps the frame's memory alive while a view exists.  While
    any window references the frame, the decoder neither resizes it nor hands it
    out: a caller writing through a view it should have dropped can then only
    scribble on memory no frame uses."""

    cdef object owner
    cdef char* ptr
    cdef Py_ssize_t size

    def __getbuffer__(self, Py_buffer* view, int flags):
        # Cython has put a new reference to None in view.obj, which
        # PyBuffer_FillInfo overwrites without releasing (a reference to None
        # leaked per view: unbounded before Python 3.12 made None immortal)
        Py_XDECREF(<PyObject*>view.obj)
        PyBuffer_FillInfo(view, self, self.ptr, self.size, 0, flags)

    def __releasebuffer__(self, Py_buffer* view):
        pass


# -- decoders -------------------------------------------------------------------

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

    # the held bytes: the unfinished frame (or, after an error, bytes not yet cut)
    cdef unsigned char* _buf
    cdef Py_ssize_t _bstart, _bend, _bcap
    cdef Py_ssize_t _scanned  # delimited framings: leading held bytes without a delimiter
    cdef Py_ssize_t _max
    cdef object _error  # raised by the next call
    cdef bint _sticky  # the error is a ProtocolError and stays
    cdef uint64_t _skip  # bytes of an oversize frame still to discard
    cdef bint _busy
    # at most this many frames are cut per call (FramedSocket.recv cuts one, so
    # the bytes after it can still be decoded otherwise: framer switch, raw reads)
    cdef Py_ssize_t _quota
    # a large frame being filled: _large[0:_lhave] of _lsize bytes (its body and
    # trailer), after the _lprefix header bytes that strip removed
    cdef PyObject* _large
    cdef Py_ssize_t _lhave, _lsize, _lcap
    cdef bytes _lprefix
    cdef int _ltrail  # the byte that must end it, or -1
    cdef bytearray _area  # get_buffer()'s memory
    cdef Window _window
    cdef Py_ssize_t _window_size

    def __cinit__(self, *args, **kwargs):
        self._quota = PY_SSIZE_T_MAX
        self._buf = _no_bytes

    def __dealloc__(self):
        self._free_buf()
        Py_XDECREF(self._large)

    # -- public API ---------------------------------------------------------

    def feed(self, data):
        """Take in ``data``; return every frame it completes, in order."""
        cdef Py_buffer view
        cdef list frames = []
        self._enter()
        try:
            if PyBytes_CheckExact(data):
                self._window = NO_WINDOW
                self._consume(<const unsigned char*>PyBytes_AS_STRING(data),
                              PyBytes_GET_SIZE(data), frames)
            else:
                PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
                try:
                    self._window = NO_WINDOW
                    self._consume(<const unsigned char*>view.buf, view.len, frames)
                finally:
                    PyBuffer_Release(&view)
            return self._deliver(frames)
        finally:
            self._busy = False

    def get_buffer(self, Py_ssize_t sizehint=-1):
        """A writable buffer for the next bytes (``asyncio.BufferedProtocol``)."""
        cdef _Window window
        cdef Py_ssize_t size = self._lcap - self._lhave
        self._enter()
        try:
            # The frame's last byte never goes through a window: the frame is
            # completed by buffer_updated() on the area (or by feed), when the
            # caller holds no view of it any more (see _finish_large).
            if size > self._lsize - self._lhave - 1:
                size = self._lsize - self._lhave - 1
            if (self._large != NULL and self._error is None and not self._skip
                    and size > 0 and sizehint <= size):
                window = _Window.__new__(_Window)
                window.owner = <object>self._large
                window.ptr = _bytes_data(self._large) + self._lhave
                window.size = size
                self._window = LARGE_WINDOW
                self._window_size = size
                return PyMemoryView_FromObject(window)
            size = sizehint if sizehint > RECV_SIZE else RECV_SIZE
            if self._area is None or PyByteArray_GET_SIZE(self._area) < size:
                self._area = PyByteArray_FromStringAndSize(NULL, size)
            self._window = AREA_WINDOW
            self._window_size = PyByteArray_GET_SIZE(self._area)
            return PyMemoryView_FromObject(self._area)
        finally:
            self._busy = False

    def buffer_updated(self, Py_ssize_t nbytes):
        """``nbytes`` were written at the start of the last ``get_buffer()``
        view; return every frame they complete."""
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
            return self._deliver(frames)
        finally:
            self._busy = False

    @property
    def buffered(self):
        """Bytes held that are not yet a frame."""
        if self._skip:
            return 0
        if self._large != NULL:  # (held bytes then follow the big frame)
            return len(self._lprefix) + self._lhave + self._bend - self._bstart
        return self._bend - self._bstart

    def eof(self):
        """The stream has ended: return the frames still held (normally none).

        Raises ``IncompleteFrame`` if an unfinished frame is held, and any error
        still pending from an earlier call.
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
        """Hand over every byte held and reset the decoder to its initial state."""
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

    cdef int _adopt(self, Decoder other) except -1:
        """Take over other's held bytes (its receive buffer, without copying),
        leaving other empty.  This decoder must hold nothing."""
        if other._large != NULL:
            other._unlarge()
        if other._skip:
            # what other holds is the end of an oversize frame it was skipping
            # (the stream ended inside it): not bytes to hand on, as in detach()
            other._drop(other._bend - other._bstart)
        self._free_buf()
        self._buf, self._bstart, self._bend, self._bcap = (
            other._buf, other._bstart, other._bend, other._bcap)
        other._buf = _no_bytes
        other._bstart = other._bend = other._bcap = 0
        self._scanned = 0
        return 0

    cdef void _drop(self, Py_ssize_t n) noexcept:
        """Forget the first n held bytes."""
        self._bstart += n
        if self._bstart == self._bend:
            self._bstart = self._bend = 0
            if self._bcap > KEEP_HELD:
                self._free_buf()

    cdef void _release_if_empty(self) noexcept:
        """Free the receive buffer if it holds nothing.  On a non-blocking
        socket, one thread serves many connections: a buffer kept between reads
        would be memory per connection, where one freed when empty serves the
        next connection read."""
        if self._bstart == self._bend and self._large == NULL and self._window == NO_WINDOW:
            self._bstart = self._bend = 0
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
            return b"".join((self._lprefix, PyBytes_FromStringAndSize(
                _bytes_data(self._large), self._lhave), held))
        return held

    cdef object _expected_wire(self):
        if self._large != NULL:
            return len(self._lprefix) + <object>self._lsize  # may pass PY_SSIZE_T_MAX
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
        self._lprefix = PyBytes_FromStringAndSize(<const char*>p, strip)
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
        prefix = self._lprefix
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
        self._lprefix = None

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

    # -- what each framing provides -----------------------------------------

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        """Cut every whole frame of p[pos:n] into frames; return where the
        first unfinished (or bad: the error is set) frame starts."""
        raise NotImplementedError

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        """How many more bytes the held frame needs before _cut can decide it
        (whole frame or error); 0 when it can now."""
        raise NotImplementedError

    cdef bint _layout(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* total, Py_ssize_t* strip,
        int* trail
    ) except -1:
        """For the frame starting at p (n bytes there, a valid header or part
        of one): True and its wire size, stripped head and final byte, if the
        header is complete."""
        return False

    cdef object _expected(self):
        raise NotImplementedError


cdef class _LengthFormat:
    """Shared option arithmetic of LengthPrefixed's decoder and encoder."""

    cdef Field field
    cdef int width
    cdef bint big
    cdef Py_ssize_t offset, header, strip, max_size
    cdef int64_t adjustment
    # valid field values: vmin <= value <= vmax (vmin 1, vmax 0: none is)
    cdef uint64_t vmin, vmax
    cdef object encode_max

    def __cinit__(self, framer):
        self.width = framer.width
        self.big = framer.byteorder == "big"
        self.field = {1: U8, 2: BE16 if self.big else LE16, 4: BE32 if self.big else LE32,
                      8: BE64 if self.big else LE64}[self.width]
        self.offset = framer.offset
        self.header = framer.offset + framer.width
        self.strip = framer.strip
        self.max_size = framer.max_size
        self.adjustment = framer.adjustment
        field_max = (1 << (8 * framer.width)) - 1  # a Python int: exact for width 8
        vmin = max(0, -framer.adjustment)
        vmax = min(field_max, framer.max_size - framer.adjustment - self.header + self.strip)
        self.vmin, self.vmax = (vmin, vmax) if vmin <= vmax else (1, 0)
        self.encode_max = min(
            framer.max_size, field_max + framer.adjustment + self.header - self.strip
        )
        if not (self.offset >= 0 and 0 <= self.strip <= self.header and self.max_size >= 1):
            raise ValueError(f"invalid LengthPrefixed options: {framer!r}")


@cython.final
cdef class LengthPrefixedDecoder(Decoder):
    cdef _LengthFormat _fmt
    cdef Field _field
    cdef Py_ssize_t _off, _hl, _strip
    cdef int64_t _adj
    cdef uint64_t _vmin, _vmax

    def __cinit__(self, _LengthFormat fmt not None):
        self._fmt = fmt
        self._field = fmt.field
        self._off = fmt.offset
        self._hl = fmt.header
        self._strip = fmt.strip
        self._adj = fmt.adjustment
        self._vmin = fmt.vmin
        self._vmax = fmt.vmax
        self._max = fmt.max_size

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        cdef Py_ssize_t hl = self._hl, off = self._off, strip = self._strip
        cdef uint64_t value, total, vmin = self._vmin, vmax = self._vmax
        cdef uint64_t adj = <uint64_t>self._adj  # modular: value + adj is the body
        cdef Field field = self._field
        while n - pos >= hl and len(frames) < self._quota:
            value = _load(p + pos + off, field)
            if value < vmin or value > vmax:
                self._bad_header(value)
                return pos
            total = <uint64_t>hl + value + adj
            if total > <uint64_t>(n - pos):
                return pos
            frames.append(PyBytes_FromStringAndSize(
                <const char*>p + pos + strip, <Py_ssize_t>total - strip))
            pos += <Py_ssize_t>total
        return pos

    cdef int _bad_header(self, uint64_t value) except -1:
        body = <object>value + self._adj
        if body < 0:
            self._fail(_messages.negative_length(value, self._adj))
        else:
            wire = self._hl + body
            self._oversize(wire - self._strip, wire if wire < 2**64 else 2**64 - 1)
        return 0

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        cdef Py_ssize_t have = self._bend - self._bstart
        cdef uint64_t value, total
        if have < self._hl:
            return self._hl - have
        value = _load(self._buf + self._bstart + self._off, self._field)
        if value < self._vmin or value > self._vmax:
            return 0
        return _still_wanted(<uint64_t>self._hl + value + <uint64_t>self._adj, have)

    cdef bint _layout(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* total, Py_ssize_t* strip,
        int* trail
    ) except -1:
        cdef uint64_t value
        if n < self._hl:
            return False
        value = _load(p + self._off, self._field)
        total[0] = <uint64_t>self._hl + value + <uint64_t>self._adj
        strip[0] = self._strip
        return True

    cdef object _expected(self):
        if self._bend - self._bstart < self._hl:
            return None
        return self._hl + <object>_load(self._buf + self._bstart + self._off, self._field) + self._adj


@cython.final
cdef class DelimitedDecoder(Decoder):
    """Frames ending with a delimiter; ``Lines`` also strips one ``\\r`` before it.

    The search for a frame's end stops once no frame within ``max_size`` is
    possible (``_limit`` bytes from its start), so an endless line costs at most
    ``max_size`` plus a few bytes of memory.
    """

    cdef bytes _delim
    cdef const unsigned char* _d
    cdef Py_ssize_t _dl, _limit
    cdef bint _keep, _strip_cr

    def __cinit__(self, bytes delimiter not None, bint keep, bint strip_cr, Py_ssize_t max_size):
        if not delimiter or max_size < 1:
            raise ValueError("invalid Delimited options")
        self._delim = delimiter
        self._d = <const unsigned char*>PyBytes_AS_STRING(delimiter)
        self._dl = len(delimiter)
        self._keep = keep
        self._strip_cr = strip_cr
        self._max = max_size
        # the furthest a valid frame's delimiter can end, counted from the frame's start
        limit = <object>max_size + (0 if keep else self._dl) + strip_cr
        self._limit = limit if limit < PY_SSIZE_T_MAX else PY_SSIZE_T_MAX

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        cdef Py_ssize_t avail, end, size, dl = self._dl, limit = self._limit
        while len(frames) < self._quota:
            avail = n - pos
            end = _find(p + pos, avail if avail < limit else limit, self._d, dl)
            if end < 0:
                if avail >= limit:
                    self._oversize_delimited()
                return pos
            size = end
            if self._strip_cr and size and p[pos + end - 1] == 13:
                size -= 1
            elif self._keep:
                size += dl
            if size > self._max:
                self._oversize_delimited()
                return pos
            frames.append(PyBytes_FromStringAndSize(<const char*>p + pos, size))
            pos += end + dl
        return pos

    cdef int _oversize_delimited(self) except -1:
        self._oversize(<object>self._max + 1, 1)  # _skip is a flag here: skipping to a delimiter
        return 0

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        cdef const unsigned char* held = self._buf + self._bstart
        cdef Py_ssize_t have = self._bend - self._bstart, dl = self._dl
        cdef Py_ssize_t start = self._scanned - dl + 1, end, room
        if start < 0:
            start = 0
        if _find(held + start, have - start, self._d, dl) >= 0 or have >= self._limit:
            self._scanned = 0
            return 0  # a frame's end or the limit is held: _cut decides
        self._scanned = have
        end = _straddle(held, have, p + pos, n - pos, self._d, dl)
        if end:
            return end
        room = self._limit - have
        end = _find(p + pos, room if room < n - pos else n - pos, self._d, dl)
        if end >= 0:
            return end + dl
        return room if room < n - pos + 1 else n - pos + 1

    cdef Py_ssize_t _skip_in(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        # The oversize frame runs to the first delimiter; only its last
        # len(delim) - 1 bytes are held, in case the delimiter straddles chunks.
        cdef Py_ssize_t have = self._bend - self._bstart, dl = self._dl, end, keep
        end = _find(self._buf + self._bstart, have, self._d, dl)
        if end >= 0:
            self._drop(end + dl)
            return self._skipped(pos)
        if have > dl - 1:
            self._drop(have - (dl - 1))
            have = dl - 1
        end = _straddle(self._buf + self._bstart, have, p + pos, n - pos, self._d, dl)
        if end:
            self._drop(have)
            return self._skipped(pos + end)
        end = _find(p + pos, n - pos, self._d, dl)
        if end >= 0:
            self._drop(have)
            return self._skipped(pos + end + dl)
        # keep the last dl - 1 bytes of held + p[pos:n]
        keep = n - pos if n - pos < dl - 1 else dl - 1
        if have > dl - 1 - keep:
            self._drop(have - (dl - 1 - keep))
        self._hold(p + n - keep, keep)
        return n

    cdef Py_ssize_t _skipped(self, Py_ssize_t pos) noexcept:
        self._skip = 0
        self._scanned = 0
        return pos

    cdef object _expected(self):
        return None


@cython.final
cdef class FixedSizeDecoder(Decoder):
    cdef Py_ssize_t _size

    def __cinit__(self, Py_ssize_t size):
        if size < 1:
            raise ValueError("invalid FixedSize size")
        self._size = size
        self._max = size

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        cdef Py_ssize_t size = self._size
        while n - pos >= size and len(frames) < self._quota:
            frames.append(PyBytes_FromStringAndSize(<const char*>p + pos, size))
            pos += size
        return pos

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        cdef Py_ssize_t want = self._size - (self._bend - self._bstart)
        return want if want > 0 else 0

    cdef bint _layout(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* total, Py_ssize_t* strip,
        int* trail
    ) except -1:
        total[0] = self._size
        return True

    cdef object _expected(self):
        return self._size


@cython.final
cdef class UntilEofDecoder(Decoder):
    """The rest of the stream is one frame, ended by EOF (``recv_until_eof``);
    more than max_size bytes is oversize, and the rest of the stream is skipped."""

    def __cinit__(self, Py_ssize_t max_size):
        if max_size < 1:
            raise ValueError("invalid max_size")
        self._max = max_size

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        if n - pos > self._max:
            self._oversize(<object>self._max + 1, <uint64_t>-1)
        return pos

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        cdef Py_ssize_t have = self._bend - self._bstart
        # have >= 1 (_want is asked about held bytes): _max - have + 1 cannot
        # overflow, where _max + 1 - have does with max_size=sys.maxsize
        return 0 if have > self._max else self._max - have + 1

    cdef object _expected(self):
        return None


# the result of parsing a varint or netstring header
cdef enum Header:
    BAD = -1  # the error is set
    INCOMPLETE = 0
    COMPLETE = 1


@cython.final
cdef class NetstringDecoder(Decoder):
    """``b"5:hello,"``: decimal length without leading zeros, ``:``, body, ``,``."""

    def __cinit__(self, Py_ssize_t max_size):
        if max_size < 1:
            raise ValueError("invalid max_size")
        self._max = max_size

    cdef Header _header(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* length, Py_ssize_t* hl
    ) except? BAD:
        """Parse the header at p[0:n]; a length over 2**64 - 1 is reported as it."""
        cdef uint64_t value = 0
        cdef Py_ssize_t i
        cdef unsigned char c
        for i in range(n if n < NETSTRING_DIGITS + 1 else NETSTRING_DIGITS + 1):
            c = p[i]
            if c == c':':
                if i == 0:
                    self._fail(_messages.netstring_empty())
                    return BAD
                length[0] = value
                hl[0] = i + 1
                return COMPLETE
            if not c'0' <= c <= c'9':
                self._fail(_messages.netstring_non_digit(c))
                return BAD
            if i == 1 and p[0] == c'0':
                self._fail(_messages.netstring_leading_zero())
                return BAD
            if i == NETSTRING_DIGITS:
                self._fail(_messages.netstring_too_long())
                return BAD
            if value > (<uint64_t>-1 - (c - c'0')) // 10:
                value = <uint64_t>-1  # saturate: far over any max_size
            else:
                value = value * 10 + (c - c'0')
        return INCOMPLETE

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0, start
        while pos < n and len(frames) < self._quota:
            if self._header(p + pos, n - pos, &length, &hl) != COMPLETE:
                return pos
            if length > <uint64_t>self._max:
                size = int(PyBytes_FromStringAndSize(<const char*>p + pos, hl - 1))
                wire = hl + size + 1
                self._oversize(size, wire if wire < 2**64 else 2**64 - 1)
                return pos
            start = pos + hl
            if <Py_ssize_t>length >= n - start:
                return pos
            if p[start + length] != c',':
                self._fail(_messages.netstring_no_comma(p[start + length]))
                return pos
            frames.append(PyBytes_FromStringAndSize(<const char*>p + start, <Py_ssize_t>length))
            pos = start + <Py_ssize_t>length + 1
        return pos

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0, have = self._bend - self._bstart
        cdef Header header = self._header(self._buf + self._bstart, have, &length, &hl)
        if header == INCOMPLETE:
            return 1
        if header == BAD or length > <uint64_t>self._max:
            return 0
        return _still_wanted(<uint64_t>hl + length + 1, have)

    cdef bint _layout(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* total, Py_ssize_t* strip,
        int* trail
    ) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0
        if self._header(p, n, &length, &hl) != COMPLETE:
            return False
        total[0] = hl + length + 1
        strip[0] = hl
        trail[0] = c','
        return True

    cdef object _expected(self):
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0
        if self._header(self._buf + self._bstart, self._bend - self._bstart, &length, &hl) != COMPLETE:
            return None
        return hl + <object>length + 1


@cython.final
cdef class VarintPrefixedDecoder(Decoder):
    """A base-128 varint (least significant group first) then that many bytes."""

    def __cinit__(self, Py_ssize_t max_size):
        if max_size < 1:
            raise ValueError("invalid max_size")
        self._max = max_size

    cdef Header _header(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* length, Py_ssize_t* hl
    ) except? BAD:
        cdef uint64_t value = 0
        cdef Py_ssize_t i
        cdef unsigned char byte
        for i in range(n if n < VARINT_MAX else VARINT_MAX):
            byte = p[i]
            value |= <uint64_t>(byte & 0x7F) << (7 * i)
            if byte < 0x80:
                if i == VARINT_MAX - 1 and byte > 1:
                    self._fail(_messages.varint_overflow())
                    return BAD
                length[0] = value
                hl[0] = i + 1
                return COMPLETE
            if i == VARINT_MAX - 1:
                self._fail(_messages.varint_too_long())
                return BAD
        return INCOMPLETE

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0
        while pos < n and len(frames) < self._quota:
            length = p[pos]
            hl = 1
            if length >= 0x80 and self._header(p + pos, n - pos, &length, &hl) != COMPLETE:
                return pos
            if length > <uint64_t>self._max:
                wire = hl + <object>length
                self._oversize(length, wire if wire < 2**64 else 2**64 - 1)
                return pos
            if <Py_ssize_t>length > n - pos - hl:
                return pos
            frames.append(PyBytes_FromStringAndSize(<const char*>p + pos + hl, <Py_ssize_t>length))
            pos += hl + <Py_ssize_t>length
        return pos

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0, have = self._bend - self._bstart
        cdef Header header = self._header(self._buf + self._bstart, have, &length, &hl)
        if header == INCOMPLETE:
            return 1
        if header == BAD or length > <uint64_t>self._max:
            return 0
        return _still_wanted(<uint64_t>hl + length, have)

    cdef bint _layout(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* total, Py_ssize_t* strip,
        int* trail
    ) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0
        if self._header(p, n, &length, &hl) != COMPLETE:
            return False
        total[0] = hl + length
        strip[0] = hl
        return True

    cdef object _expected(self):
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0
        if self._header(self._buf + self._bstart, self._bend - self._bstart, &length, &hl) != COMPLETE:
            return None
        return hl + <object>length


# -- encoders -------------------------------------------------------------------

cdef class _Codec:
    """Encoding machinery: one exact-size bytes object per call, written in two
    passes (sizes and checks, then bytes).  Subclasses say how big one payload's
    frame is (``_frame_size``, which also refuses bad payloads) and write it."""

    cdef Py_ssize_t _frame_size(self, const unsigned char* p, Py_ssize_t n) except -1:
        raise NotImplementedError

    cdef unsigned char* _head(
        self, unsigned char* out, const unsigned char* head, Py_ssize_t n
    ) noexcept:
        """Write what goes before an n-byte payload; return the end."""
        return out

    cdef unsigned char* _tail(self, unsigned char* out, Py_ssize_t n) noexcept:
        """Write what goes after an n-byte payload; return the end."""
        return out

    @cython.final
    cdef unsigned char* _write(
        self, unsigned char* out, const unsigned char* head, const unsigned char* p, Py_ssize_t n
    ) noexcept:
        out = self._head(out, head, n)
        memcpy(out, p, n)
        return self._tail(out + n, n)

    cdef tuple _affixes(self, object payload, const unsigned char* head):
        """(what goes before, what goes after) the payload in its frame: a big
        payload is sent between them, never copied into one frame."""
        cdef Py_buffer view
        cdef unsigned char* out
        cdef unsigned char* mid
        PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
        try:
            size = self._frame_size(<const unsigned char*>view.buf, view.len) - view.len
            both = PyBytes_FromStringAndSize(NULL, size)
            out = <unsigned char*>PyBytes_AS_STRING(both)
            mid = self._head(out, head, view.len)
            self._tail(mid, view.len)
            return both[:mid - out], both[mid - out:]
        finally:
            PyBuffer_Release(&view)

    cdef object _encode(self, object payload, const unsigned char* head):
        cdef Py_buffer view
        PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
        try:
            size = self._frame_size(<const unsigned char*>view.buf, view.len)
            out = PyBytes_FromStringAndSize(NULL, size)
            self._write(<unsigned char*>PyBytes_AS_STRING(out), head,
                        <const unsigned char*>view.buf, view.len)
            return out
        finally:
            PyBuffer_Release(&view)

    cdef object _encode_many(self, object payloads, const unsigned char* head):
        cdef Py_buffer view
        cdef Py_ssize_t i, size, total = 0
        cdef unsigned char* out
        cdef unsigned char* end
        seq = PySequence_Fast(payloads, b"payloads must be an iterable of bytes-like objects")
        # Exact bytes are read in place; anything else through the buffer protocol,
        # whose exporter may run code (even mutate seq): hence items re-read and
        # sizes checked again in the second pass.
        for i in range(PySequence_Fast_GET_SIZE(seq)):
            item = <object>PySequence_Fast_ITEMS(seq)[i]
            if PyBytes_CheckExact(item):
                size = self._frame_size(<const unsigned char*>PyBytes_AS_STRING(item),
                                        PyBytes_GET_SIZE(item))
            else:
                PyObject_GetBuffer(item, &view, PyBUF_SIMPLE)
                try:
                    size = self._frame_size(<const unsigned char*>view.buf, view.len)
                finally:
                    PyBuffer_Release(&view)
            if size > PY_SSIZE_T_MAX - total:
                raise OverflowError("encoded frames would exceed the largest bytes object")
            total += size
        result = PyBytes_FromStringAndSize(NULL, total)
        out = <unsigned char*>PyBytes_AS_STRING(result)
        end = out + total
        i = 0
        while i < PySequence_Fast_GET_SIZE(seq):
            item = <object>PySequence_Fast_ITEMS(seq)[i]
            if PyBytes_CheckExact(item):
                out = self._write_checked(out, end, head,
                                          <const unsigned char*>PyBytes_AS_STRING(item),
                                          PyBytes_GET_SIZE(item))
            else:
                PyObject_GetBuffer(item, &view, PyBUF_SIMPLE)
                try:
                    out = self._write_checked(out, end, head,
                                              <const unsigned char*>view.buf, view.len)
                finally:
                    PyBuffer_Release(&view)
            i += 1
        if out != end:
            raise RuntimeError("payloads changed while being encoded")
        return result

    cdef unsigned char* _write_checked(
        self, unsigned char* out, unsigned char* end, const unsigned char* head,
        const unsigned char* p, Py_ssize_t n
    ) except NULL:
        if self._frame_size(p, n) > end - out:
            raise RuntimeError("payloads changed while being encoded")
        return self._write(out, head, p, n)

    def encode(self, payload):
        return self._encode(payload, NULL)

    def encode_many(self, payloads):
        return self._encode_many(payloads, NULL)


@cython.final
cdef class LengthPrefixedCodec(_Codec):
    cdef _LengthFormat _fmt

    def __cinit__(self, framer):
        self._fmt = _LengthFormat(framer)

    def decoder(self):
        return LengthPrefixedDecoder(self._fmt)

    cdef Py_ssize_t _frame_size(self, const unsigned char* p, Py_ssize_t n) except -1:
        cdef _LengthFormat fmt = self._fmt
        size = n + fmt.header - fmt.strip
        if size > fmt.encode_max:
            raise FrameTooLarge(size, fmt.encode_max)
        if n < fmt.adjustment:
            raise _messages.body_below_adjustment(n, fmt.adjustment)
        return fmt.header + n

    cdef unsigned char* _head(
        self, unsigned char* out, const unsigned char* head, Py_ssize_t n
    ) noexcept:
        cdef _LengthFormat fmt = self._fmt
        if fmt.offset:  # else head may be NULL, which memcpy must not get even for 0 bytes
            memcpy(out, head, fmt.offset)
            out += fmt.offset
        _store(out, <uint64_t>n - <uint64_t>fmt.adjustment, fmt.width, fmt.big)
        return out + fmt.width

    cdef int _check_head(self, head, Py_buffer* view) except -1:
        PyObject_GetBuffer(head, view, PyBUF_SIMPLE)
        if view.len != self._fmt.offset:
            PyBuffer_Release(view)
            raise _messages.head_size(self._fmt.offset, view.len)
        return 0

    def encode(self, payload, head=b""):
        cdef Py_buffer view
        self._check_head(head, &view)
        try:
            return self._encode(payload, <const unsigned char*>view.buf)
        finally:
            PyBuffer_Release(&view)

    def encode_many(self, payloads, head=b""):
        cdef Py_buffer view
        self._check_head(head, &view)
        try:
            return self._encode_many(payloads, <const unsigned char*>view.buf)
        finally:
            PyBuffer_Release(&view)


@cython.final
cdef class DelimitedCodec(_Codec):
    cdef bytes _delim
    cdef const unsigned char* _d
    cdef Py_ssize_t _dl, _max
    cdef bint _keep, _strip_cr

    def __cinit__(self, framer):
        self._delim = framer.delimiter
        self._d = <const unsigned char*>PyBytes_AS_STRING(self._delim)
        self._dl = len(self._delim)
        self._keep = framer.keep
        self._strip_cr = framer._strip_cr
        self._max = framer.max_size

    def decoder(self):
        return DelimitedDecoder(self._delim, self._keep, self._strip_cr, self._max)

    cdef Py_ssize_t _frame_size(self, const unsigned char* p, Py_ssize_t n) except -1:
        cdef Py_ssize_t k, dl = self._dl
        # The decoder ends the frame at the first delimiter in payload + delimiter:
        # that must be the appended one (b"xa" + b"aa" would end after b"x").
        if _find(p, n, self._d, dl) >= 0:
            raise _messages.contains_delimiter(self._delim)
        for k in range(1, dl if dl <= n else n + 1):
            if memcmp(p + n - k, self._d, k) == 0 and memcmp(self._d, self._d + k, dl - k) == 0:
                raise _messages.contains_delimiter(self._delim)
        if self._strip_cr and n and p[n - 1] == 13:
            raise _messages.line_ends_with_cr()
        size = n + dl * self._keep
        if size > self._max:
            raise FrameTooLarge(size, self._max)
        return n + dl

    cdef unsigned char* _tail(self, unsigned char* out, Py_ssize_t n) noexcept:
        memcpy(out, self._d, self._dl)
        return out + self._dl


@cython.final
cdef class FixedSizeCodec(_Codec):
    cdef Py_ssize_t _size

    def __cinit__(self, framer):
        self._size = framer.size

    def decoder(self):
        return FixedSizeDecoder(self._size)

    cdef Py_ssize_t _frame_size(self, const unsigned char* p, Py_ssize_t n) except -1:
        if n != self._size:
            raise _messages.wrong_fixed_size(self._size, n)
        return n

    def encode(self, payload):
        if PyBytes_CheckExact(payload):
            self._frame_size(NULL, PyBytes_GET_SIZE(payload))
            return payload
        return self._encode(payload, NULL)


cdef inline int _digits(Py_ssize_t n) noexcept nogil:
    cdef int count = 1
    while n >= 10:
        n //= 10
        count += 1
    return count


@cython.final
cdef class NetstringCodec(_Codec):
    cdef Py_ssize_t _max

    def __cinit__(self, framer):
        self._max = framer.max_size

    def decoder(self):
        return NetstringDecoder(self._max)

    cdef Py_ssize_t _frame_size(self, const unsigned char* p, Py_ssize_t n) except -1:
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        return _digits(n) + 1 + n + 1

    cdef unsigned char* _head(
        self, unsigned char* out, const unsigned char* head, Py_ssize_t n
    ) noexcept:
        cdef int i, count = _digits(n)
        cdef Py_ssize_t rest = n
        for i in range(count - 1, -1, -1):
            out[i] = c'0' + rest % 10
            rest //= 10
        out[count] = c':'
        return out + count + 1

    cdef unsigned char* _tail(self, unsigned char* out, Py_ssize_t n) noexcept:
        out[0] = c','
        return out + 1


@cython.final
cdef class VarintPrefixedCodec(_Codec):
    cdef Py_ssize_t _max

    def __cinit__(self, framer):
        self._max = framer.max_size

    def decoder(self):
        return VarintPrefixedDecoder(self._max)

    cdef Py_ssize_t _frame_size(self, const unsigned char* p, Py_ssize_t n) except -1:
        cdef int count = 1
        cdef uint64_t rest = n
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        while rest > 0x7F:
            rest >>= 7
            count += 1
        return count + n

    cdef unsigned char* _head(
        self, unsigned char* out, const unsigned char* head, Py_ssize_t n
    ) noexcept:
        cdef uint64_t rest = n
        while rest > 0x7F:
            out[0] = <unsigned char>(rest & 0x7F | 0x80)
            out += 1
            rest >>= 7
        out[0] = <unsigned char>rest
        return out + 1


# -- sockets --------------------------------------------------------------------

cdef extern from "_io.h" nogil:
    cdef struct iovec:
        void* iov_base
        size_t iov_len
    enum: FF_IOV_BATCH
    enum: FF_FD_PATH
    Py_ssize_t ff_recv(int fd, char* buf, Py_ssize_t n)
    Py_ssize_t ff_recv2(int fd, char* buf, Py_ssize_t n, char* buf2, Py_ssize_t n2)
    Py_ssize_t ff_sendv(int fd, iovec* iov, int count)
    int ff_poll(int fd, int writing, int timeout_ms)
    bint ff_would_block(int err)
    double ff_monotonic()

# Where there is no descriptor path (Windows), or for a test of the other path,
# FramedSocket calls the socket object's recv_into() and send() instead.
cdef bint _fd_path_on = FF_FD_PATH


def _use_fd_path(bint on):
    """Private, for tests: whether FramedSockets made from now on use the
    descriptor path (where the platform has one)."""
    global _fd_path_on
    _fd_path_on = on and FF_FD_PATH


# what a FramedSocket's decoder cuts
cdef enum Kind:
    FRAMES  # frames of the socket's framer
    EXACTLY  # raw reads
    UNTIL
    UNTIL_EOF

# what one receive system call gave
cdef enum:
    GOT_EOF
    GOT_BYTES
    GOT_NOTHING  # non-blocking socket, nothing to read


cdef struct Call:
    # read from the socket once per call, before its first system call, so that
    # each call (in each thread) has its own deadline
    bint ready
    int fd
    double timeout  # < 0: blocking; 0: non-blocking
    double deadline


cdef class FramedSocket:
    """A stream socket that sends and receives whole frames.

    ``FramedSocket(sock, framer)`` takes over ``sock`` (any connected stream
    socket: TCP, AF_UNIX, ``socketpair()``) and frames what goes both ways with
    ``framer``.  The socket's timeout, read at each call, decides how calls wait:
    blocking, a deadline for the whole call, or not at all (non-blocking).
    Nothing is lost on a timeout: received bytes stay buffered for the next call,
    unsent bytes stay queued (``pending_output``) and go out first.
    """

    cdef object _sock
    cdef object _framer
    cdef _Codec _codec
    cdef Decoder _dec
    cdef Kind _kind
    cdef object _key  # the framer, or the raw read, that _dec decodes for
    cdef bint _eof
    cdef bint _receiving, _sending
    cdef object _closing  # closed by another thread's close(), still in use by a call
    cdef bint _fd_path  # system calls on the descriptor, else the socket's methods
    cdef list _out  # queued output, oldest first
    cdef Py_ssize_t _out_pos  # bytes of _out[0] already sent
    cdef Py_ssize_t _out_size  # bytes queued and not sent

    def __cinit__(self, *args, **kwargs):
        self._out = []

    def __init__(self, sock, framer):
        _checks.check_socket(sock)
        self.framer = framer
        self._dec = self._codec.decoder()
        self._key = framer
        self._fd_path = _fd_path_on
        self._sock = sock  # last: a FramedSocket without a socket is closed

    # -- receiving ------------------------------------------------------------

    def recv(self):
        """The next frame (``bytes``)."""
        return self._one(FRAMES, None)

    cdef object _one(self, Kind kind, object key):
        """One frame of this kind: cut from the buffer when it is whole there
        (costing little more than its bytes object), else _receive's."""
        frame = self._buffered_frame(kind, key)
        if frame is not None:
            return frame
        frames = self._receive(kind, key, 1)
        if not frames:
            raise _messages.no_frame_yet()
        return frames[0]

    cdef inline bint _fits(self, Kind kind, object key):
        """Whether the decoder is the one for this kind of read."""
        return self._kind == kind and (
            self._key is self._framer if kind == FRAMES else self._key == key)

    cdef object _buffered_frame(self, Kind kind, object key):
        """The next frame if it is whole in the buffer, else None (then
        _receive does everything else)."""
        cdef Decoder dec = self._dec
        cdef list frames
        cdef Py_ssize_t pos
        if (self._sock is None or self._receiving or dec._busy or dec._bend == dec._bstart
                or dec._error is not None or dec._skip or dec._large != NULL
                or not self._fits(kind, key)):
            return None
        frames = []
        dec._busy = True
        try:
            dec._quota = 1
            pos = dec._cut(dec._buf + dec._bstart, 0, dec._bend - dec._bstart, frames)
            if pos:
                dec._drop(pos)
                dec._scanned = 0
        finally:
            dec._busy = False
        return frames[0] if frames else None

    def recv_many(self, max_frames=None):
        """Every complete frame, at most ``max_frames``; waits for one unless
        the socket is non-blocking (then ``[]`` when none is complete)."""
        limit = _checks.check_max_frames(max_frames)
        return self._receive(FRAMES, None, PY_SSIZE_T_MAX if limit is None else limit)

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self._one(FRAMES, None)
        except IncompleteFrame:
            raise
        except ConnectionClosed:
            raise StopIteration from None

    def recv_exactly(self, n):
        """Exactly ``n`` bytes of the stream, unframed."""
        n = _checks.check_count(n)
        if n == 0:
            self._check_open()
            return b""
        return self._one(EXACTLY, n)

    def recv_until(self, delimiter, *, keep=False, max_size=_limits.DEFAULT_MAX_SIZE):
        """The bytes up to ``delimiter`` (consumed; returned if ``keep``)."""
        key = _checks.check_until(delimiter, max_size) + (bool(keep),)
        return self._one(UNTIL, key)

    def recv_until_eof(self, *, max_size=_limits.DEFAULT_MAX_SIZE):
        """Every byte until the peer closes its side (``b""`` if none)."""
        return self._one(UNTIL_EOF, _checks.check_max_size(max_size))

    @property
    def buffered(self):
        """Bytes received and not yet returned."""
        return 0 if self._dec is None else self._dec.buffered

    @property
    def framer(self):
        """The framer; assign another to decode what follows differently."""
        return self._framer

    @framer.setter
    def framer(self, framer):
        _checks.check_framer(framer)
        if self._receiving:  # which bytes the new framing would start at is a race
            raise _messages.busy("receiving")
        self._codec = globals()[framer._codec_name](framer)
        self._framer = framer

    cdef list _receive(self, Kind kind, object key, Py_ssize_t quota):
        """Cut up to quota frames of this kind, receiving as the socket's mode
        allows until there is one ([] only on a non-blocking socket)."""
        cdef list frames = []
        cdef Decoder dec
        cdef Call call
        cdef int got
        cdef object waiter = None  # the object path's Call
        self._check_open()
        if self._receiving:
            raise _messages.busy("receiving")
        self._receiving = True
        call.ready = False
        try:
            while True:
                dec = self._dec
                if not self._fits(kind, key):
                    if dec._error is not None:
                        dec._deliver(frames)  # raises it: errors come before a switch
                    if not dec._skip or self._eof:
                        self._switch(kind, key)
                        continue
                    # the old framing's oversize frame is skipped first
                    self._cut(dec, 0, frames)
                    if not dec._skip:
                        continue
                else:
                    self._cut(dec, quota, frames)
                    frames = dec._deliver(frames)
                    if frames:
                        if call.ready and call.timeout == 0.0 or waiter is not None and waiter.timeout == 0.0:
                            dec._release_if_empty()
                        return frames
                    if self._eof:
                        return self._at_eof(dec)
                if not self._fd_path and waiter is None:
                    waiter = _waiting.Call(self._sock)
                got = self._recv_into(dec, &call, waiter)
                if self._sock is None:  # close() in another thread woke the call
                    raise _messages.closed()
                if got == GOT_NOTHING:
                    dec._release_if_empty()
                    return frames
                if got == GOT_EOF:
                    self._eof = True
        except OSError:
            if self._sock is None:  # the wake-up's error, not the connection's
                raise _messages.closed() from None
            raise
        finally:
            self._receiving = False
            self._finish_close()

    cdef int _cut(self, Decoder dec, Py_ssize_t quota, list frames) except -1:
        dec._enter()
        try:
            dec._quota = quota
            dec._window = NO_WINDOW
            dec._consume(_no_bytes, 0, frames)
        finally:
            dec._busy = False
        return 0

    cdef list _at_eof(self, Decoder dec):
        if self._kind == UNTIL_EOF:
            return [dec.detach()]
        frames = dec.eof()
        if not frames:
            raise _messages.connection_closed()
        return frames

    cdef int _switch(self, Kind kind, object key) except -1:
        """Decode what is buffered for a different kind of read, without copying."""
        cdef Decoder dec
        if kind == FRAMES:
            dec = self._codec.decoder()
            key = self._framer
        elif kind == EXACTLY:
            dec = FixedSizeDecoder(key)
        elif kind == UNTIL:
            dec = DelimitedDecoder(key[0], key[2], False, key[1])
        else:
            dec = UntilEofDecoder(key)
        self._dec._enter()
        try:
            dec._adopt(self._dec)
        finally:
            self._dec._busy = False
        self._dec = dec
        self._kind = kind
        self._key = key
        return 0

    cdef int _recv_into(self, Decoder dec, Call* call, object waiter) except -1:
        """One receive into the decoder's buffer, or straight into the big frame
        being filled (and, once its whole rest has room, the buffer after it, so
        that the next frame's header comes in the same call), waiting as the
        socket's mode says."""
        cdef char* p
        cdef char* p2 = NULL
        cdef Py_ssize_t size, size2 = 0, got
        cdef int err
        cdef bint large = dec._large != NULL and dec._error is None and not dec._skip
        if self._sock is None:  # closed by another thread
            raise _messages.closed()
        if waiter is None:
            self._prepare(call)
        # a signal that came with the last bytes (the call returned them, not
        # EINTR) is handled before waiting again
        PyErr_CheckSignals()
        if large:
            if dec._lhave == dec._lcap and not dec._grow_large(dec._lhave + 1):
                return GOT_BYTES  # out of memory: the decoder reports it
            p = _bytes_data(dec._large) + dec._lhave
            size = dec._lcap - dec._lhave
            # the frame's last bytes and the next frame's first come in one call
            # (only then: two buffers measured slower for big reads here)
            if dec._lcap == dec._lsize and size <= RECV_SIZE and waiter is None:
                dec._room(RECV_SIZE)  # (held bytes are empty while a big frame fills)
                p2 = <char*>dec._buf + dec._bend
                size2 = RECV_SIZE
        else:
            dec._room(RECV_SIZE)
            p = <char*>dec._buf + dec._bend
            size = RECV_SIZE
        if waiter is not None:
            return self._recv_object(dec, p, size, large, waiter)
        while True:
            with nogil:
                if p2 == NULL:
                    got = ff_recv(call.fd, p, size)
                else:
                    got = ff_recv2(call.fd, p, size, p2, size2)
                err = errno
            if got > 0:
                if not large:
                    dec._bend += got
                elif got <= size:
                    dec._lhave += got
                else:
                    dec._lhave += size
                    dec._bend += got - size
                return GOT_BYTES
            if got == 0:
                return GOT_EOF
            if not self._waited(err, False, call):
                return GOT_NOTHING

    cdef int _recv_object(
        self, Decoder dec, char* p, Py_ssize_t size, bint large, object waiter
    ) except -1:
        """_recv_into through the socket object's recv_into() (it waits for a
        blocking socket; waiter for a deadline)."""
        cdef _Window window = _Window.__new__(_Window)
        cdef Py_ssize_t got
        window.owner = <object>dec._large if large else dec
        window.ptr = p
        window.size = size
        view = PyMemoryView_FromObject(window)
        # The socket's method is called from here, not through Call.attempt: no
        # Python code may run (a signal handler that raises) between its return
        # and the count being kept.
        try:
            while True:
                if waiter.timeout:
                    waiter.wait(False)
                try:
                    got = waiter.sock.recv_into(view)
                except BlockingIOError:
                    if not waiter.wait(False):
                        return GOT_NOTHING
                    continue
                break
        finally:
            view.release()
        if got == 0:
            return GOT_EOF
        if large:
            dec._lhave += got
        else:
            dec._bend += got
        return GOT_BYTES

    cdef int _prepare(self, Call* call) except -1:
        if call.ready:
            return 0
        fd = self._sock.fileno()
        if fd < 0:
            raise _messages.closed()
        timeout = self._sock.gettimeout()
        call.fd = fd
        call.timeout = -1.0 if timeout is None else timeout
        call.deadline = ff_monotonic() + call.timeout
        call.ready = True
        return 0

    cdef bint _waited(self, int err, bint writing, Call* call) except -1:
        """After a system call failed with err: True to try it again (a signal
        interrupted it, or the socket is ready now), False if the socket is
        non-blocking and not ready; raises anything else."""
        cdef int ms, ready
        cdef double left
        if err == EINTR:
            PyErr_CheckSignals()
            return True
        if not ff_would_block(err):
            raise OSError(err, strerror(err).decode())
        if call.timeout == 0.0:
            return False
        while True:
            ms = -1
            if call.timeout > 0.0:
                left = call.deadline - ff_monotonic()
                if left <= 0.0:
                    raise _messages.timed_out()
                ms = <int>(left * 1000.0) + 1 if left < 2e6 else 2000000000
            with nogil:
                ready = ff_poll(call.fd, writing, ms)
                err = errno
            if ready > 0:
                return True
            if ready < 0:
                if err != EINTR:
                    raise OSError(err, strerror(err).decode())
                PyErr_CheckSignals()

    # -- sending --------------------------------------------------------------

    def send(self, payload, *, head=None):
        """Send ``payload`` as one frame (``head``: see ``LengthPrefixed.encode``)."""
        self._check_open()
        self._check_head(head)
        if _nbytes(payload) < LARGE_FRAME:
            self._write([self._encode_many((payload,), head)])
        else:
            self._write(self._affixed(payload, head))

    def send_many(self, payloads, *, head=None):
        """Send every payload as a frame, in order; all are checked first."""
        self._check_open()
        self._check_head(head)
        seq = PySequence_Fast(payloads, b"payloads must be an iterable of bytes-like objects")
        if not any(_nbytes(p) >= LARGE_FRAME for p in seq):
            self._write([self._encode_many(seq, head)])
        else:
            self._write(_sending.parts_to_send(
                seq, lambda small: self._encode_many(small, head),
                lambda big: self._affixed(big, head)))

    cdef int _check_head(self, head) except -1:
        if head is not None and not isinstance(self._codec, LengthPrefixedCodec):
            raise TypeError(f"head= is for LengthPrefixed framers, not {self._framer!r}")
        return 0

    cdef list _affixed(self, payload, head):
        cdef Py_buffer view
        if head is None:
            before, after = self._codec._affixes(payload, NULL)
        else:
            (<LengthPrefixedCodec>self._codec)._check_head(head, &view)
            try:
                before, after = self._codec._affixes(
                    payload, <const unsigned char*>view.buf)
            finally:
                PyBuffer_Release(&view)
        return [before, payload, after]

    cdef object _encode_many(self, payloads, head):
        if head is None:
            return self._codec.encode_many(payloads)
        return self._codec.encode_many(payloads, head)

    def sendall(self, data):
        """Send raw bytes, unframed, in order with the frames."""
        self._check_open()
        self._write([data])

    def flush(self):
        """Send what is queued (waiting as the socket's mode says); True when
        nothing is left."""
        self._check_open()
        return self._write([])

    @property
    def pending_output(self):
        """Bytes queued and not yet sent."""
        return self._out_size

    @property
    def wants_write(self):
        """Whether output is queued (for a select() writers list)."""
        return self._out_size > 0

    cdef bint _write(self, list parts) except -1:
        """Queue parts behind what is queued and send, in order, what the socket
        takes; True when nothing is left queued."""
        cdef Call call
        cdef bint sent_all
        if self._sending:
            raise _messages.busy("sending")
        self._sending = True
        call.ready = False
        try:
            for part in parts:
                if not PyBytes_CheckExact(part):
                    part = PyMemoryView_FromObject(part).cast("B")
                if len(part):
                    self._out.append(part)
                    self._out_size += len(part)
            sent_all = self._drain(&call)
            if self._sock is None:  # close() in another thread emptied the queue
                raise _messages.closed()
            return sent_all
        except OSError:
            if self._sock is None:  # the wake-up's error, not the connection's
                raise _messages.closed() from None
            raise
        finally:
            self._own_queue()
            self._sending = False
            self._finish_close()

    cdef bint _drain(self, Call* call) except -1:
        cdef iovec iov[FF_IOV_BATCH]
        cdef Py_buffer views[FF_IOV_BATCH]
        cdef int count, i, err
        cdef Py_ssize_t sent
        cdef list out = self._out
        cdef object waiter = None  # the object path's Call
        while out:
            if self._sock is None:  # closed by another thread
                raise _messages.closed()
            if not self._fd_path:
                if waiter is None:
                    waiter = _waiting.Call(self._sock)
                if not self._send_object(waiter):
                    return False
                continue
            self._prepare(call)
            count = 0
            try:
                for i in range(len(out) if len(out) < FF_IOV_BATCH else FF_IOV_BATCH):
                    PyObject_GetBuffer(out[i], &views[i], PyBUF_SIMPLE)
                    count += 1
                    iov[i].iov_base = views[i].buf
                    iov[i].iov_len = views[i].len
                iov[0].iov_base = <char*>iov[0].iov_base + self._out_pos
                iov[0].iov_len -= self._out_pos
                with nogil:
                    sent = ff_sendv(call.fd, iov, count)
                    err = errno
            finally:
                for i in range(count):
                    PyBuffer_Release(&views[i])
            if self._sock is None:  # close() in another thread woke the call
                raise _messages.closed()
            if sent >= 0:
                self._advance(sent)
                if out:
                    # a signal cuts a blocking send short (no EINTR once bytes
                    # went): handle it now that they are accounted for
                    PyErr_CheckSignals()
            elif not self._waited(err, True, call):
                return False
        return True

    cdef bint _send_object(self, object waiter) except -1:
        """One send() of the queue's head through the socket object: False if
        the socket is non-blocking and not ready."""
        part = self._out[0]
        if self._out_pos:
            part = memoryview(part)[self._out_pos:]
        if waiter.timeout:
            waiter.wait(True)
        try:  # called from here, not through Call.attempt: see _recv_object
            sent = waiter.sock.send(part)
        except BlockingIOError:
            return waiter.wait(True)
        if self._sock is None:  # close() in another thread woke the call
            raise _messages.closed()
        self._advance(sent)
        if self._out:
            PyErr_CheckSignals()  # as on the descriptor path
        return True

    cdef int _advance(self, Py_ssize_t sent) except -1:
        cdef Py_ssize_t left
        self._out_size -= sent
        sent += self._out_pos
        while sent:
            left = len(self._out[0])
            if sent < left:
                break
            sent -= left
            del self._out[0]
        self._out_pos = sent
        return 0

    cdef int _own_queue(self) except -1:
        """Queued views of the caller's buffers become bytes of our own: the
        caller may reuse its buffers once a call returns."""
        cdef Py_ssize_t i
        for i in range(len(self._out)):
            part = self._out[i]
            if not PyBytes_CheckExact(part):
                if i == 0:
                    self._out[0] = part[self._out_pos:].tobytes()
                    self._out_pos = 0
                else:
                    self._out[i] = part.tobytes()
                part.release()
        return 0

    # -- the connection -------------------------------------------------------

    @property
    def socket(self):
        """The socket (None once closed or detached)."""
        return self._sock

    def fileno(self):
        """The socket's descriptor (for selectors)."""
        self._check_open()
        return self._sock.fileno()

    def shutdown_write(self):
        """Send what is queued, then tell the peer that nothing more is coming;
        this side goes on receiving."""
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        self._sock.shutdown(_SHUT_WR)

    def close(self):
        """Close the socket (idempotent); queued output is dropped.  A call
        in another thread is woken and raises ``OSError(EBADF)``; the
        descriptor is closed once that call has returned."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        del self._out[:]
        self._out_pos = self._out_size = 0
        self._closing = sock
        if self._receiving or self._sending:
            # The call's system calls use the descriptor's number: closing it
            # now would let a socket opened meanwhile reuse that number under
            # the call, which would then read another connection's bytes.
            try:
                sock.shutdown(_SHUT_RDWR)  # wakes it instead
            except OSError:
                pass
        else:
            self._finish_close()

    cdef int _finish_close(self) except -1:
        """Close the socket a close() left to the calls in progress, once none is."""
        sock = self._closing
        if sock is not None and not self._receiving and not self._sending:
            self._closing = None
            sock.close()
        return 0

    def detach(self):
        """Give the socket back with every byte received and not returned;
        this FramedSocket is closed afterwards."""
        if not self.flush():
            raise _messages.output_queued(self._out_size)
        if self._receiving:
            raise _messages.busy("receiving")
        sock = self._sock
        held = self._dec.detach()
        self._sock = None
        return sock, held

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        if self._sock is None:
            return f"<FramedSocket closed {self._framer!r}>"
        return f"<FramedSocket fd={self._sock.fileno()} {self._framer!r}>"

    cdef int _check_open(self) except -1:
        if self._sock is None:
            raise _messages.closed()
        return 0


cdef Py_ssize_t _nbytes(object payload) except -1:
    if PyBytes_CheckExact(payload):
        return PyBytes_GET_SIZE(payload)
    with memoryview(payload) as view:
        return view.nbytes
