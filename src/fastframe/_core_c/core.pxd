# The compiled core's classes: their fields, and the C methods one class may call
# on another.  Read this file first: it is the contract between the decoders and
# the transports (the socket loop here, and any transport added later), which
# core.pyx's includes implement.
#
# Naming: a C method without a leading underscore is part of a contract between
# classes (the seam below); one with an underscore is the class's own business,
# or its subclasses'.

cimport cython
from cpython.object cimport PyObject
from libc.stdint cimport int64_t, uint64_t


cdef enum:
    RECV_SIZE = 64 * 1024
    LARGE_FRAME = 64 * 1024
    RESERVE_AHEAD = 1024 * 1024
    VARINT_MAX = 10
    NETSTRING_DIGITS = 20
    # a held buffer this big is freed once it empties, rather than kept
    KEEP_HELD = 256 * 1024


# what the last get_buffer() view points into
cdef enum Window:
    NO_WINDOW
    AREA_WINDOW
    LARGE_WINDOW


# a length field: its width in bytes (the low 4 bits, 1..8), plus LITTLE when the
# field is little-endian; widths without a name are loaded byte by byte
cdef enum Field:
    U8 = 1
    BE16 = 2
    BE24 = 3
    BE32 = 4
    LITTLE = 16
    LE16 = LITTLE | 2
    LE24 = LITTLE | 3
    LE32 = LITTLE | 4


# the result of parsing a varint or netstring header
cdef enum Header:
    BAD = -1  # the error is set
    INCOMPLETE = 0
    COMPLETE = 1


cdef struct Area:
    # Where one receive writes: ``first``, then, once it is full, ``second``.
    # ``second`` is given only when asked for (the descriptor path, which can
    # read into two places at once) and when a large frame's last bytes come
    # into ``first``: the next frame's header then comes in the same call.
    char* first
    Py_ssize_t first_size
    char* second
    Py_ssize_t second_size
    PyObject* owner  # whose memory ``first`` is: a view of it must hold it
    bint large  # ``first`` is the large frame's own bytes object


cdef class _Window:
    """A writable view of memory the decoder owns: get_buffer()'s large frame,
    or a receive area for a socket's recv_into()."""
    cdef object owner
    cdef char* ptr
    cdef Py_ssize_t size


cdef class Decoder:
    # the held bytes: the unfinished frame (or, after an error, bytes not yet
    # cut, or received bytes a quota left uncut)
    cdef unsigned char* _buf
    cdef Py_ssize_t _bstart, _bend, _bcap
    cdef Py_ssize_t _scanned  # delimited framings: leading held bytes without a delimiter
    cdef Py_ssize_t _max
    cdef object _error  # raised by the next call
    cdef bint _sticky  # the error is a ProtocolError and stays
    # bytes of an oversize frame still to discard (delimited framings: nonzero
    # while discarding up to the next delimiter)
    cdef uint64_t _skip
    cdef bint _busy
    # at most this many frames are cut per call (FramedSocket.recv cuts one, so
    # the bytes after it can still be decoded otherwise: framer switch, raw reads)
    cdef Py_ssize_t _quota
    # A large frame being filled in its own bytes object: _large[0:_lhave] of
    # its _lsize bytes (body and trailer), after the _lhead header bytes that
    # strip removed; _lcap bytes are allocated.
    cdef PyObject* _large
    cdef Py_ssize_t _lhave, _lsize, _lcap
    cdef bytes _lhead
    cdef int _ltrail  # the byte that must end it, or -1
    cdef bytearray _area  # get_buffer()'s memory
    cdef Window _window
    cdef Py_ssize_t _window_size

    # -- the seam: what a transport asks of a decoder, and all it asks ----------
    # (besides the public eof(), detach() and buffered)
    @cython.final
    cdef object cut_held_frame(self)
    @cython.final
    cdef list cut(self, Py_ssize_t quota)
    @cython.final
    cdef list cut_into(self, list frames, Py_ssize_t quota)
    @cython.final
    cdef bint ready_to_hand_over(self, bint at_eof) except -1
    @cython.final
    cdef int adopt(self, Decoder other) except -1
    @cython.final
    cdef bint receive_area(self, Area* area, bint second) except -1
    @cython.final
    cdef int received(self, const Area* area, Py_ssize_t n) except -1
    @cython.final
    cdef int take_in(self, const unsigned char* p, Py_ssize_t n) except -1
    @cython.final
    cdef void release_if_empty(self) noexcept
    @cython.final
    cdef Py_ssize_t held(self) noexcept  # what buffered says

    # -- the stream machinery (decode.pxi) --------------------------------------
    cdef int _enter(self) except -1
    cdef list _deliver(self, list frames)
    cdef int _consume(self, const unsigned char* p, Py_ssize_t n, list frames) except -1
    cdef int _hold(self, const unsigned char* p, Py_ssize_t n) except -1
    cdef int _room(self, Py_ssize_t n) except -1
    cdef void _drop(self, Py_ssize_t n) noexcept
    cdef void _free_buf(self) noexcept
    cdef bytes _held_bytes(self)
    cdef object _expected_wire(self)
    cdef int _oversize(self, object size, uint64_t wire) except -1
    cdef int _fail(self, object error) except -1
    cdef object _large_window(self, Py_ssize_t sizehint)
    cdef bint _start_large(self, const unsigned char* p, Py_ssize_t n) except -1
    cdef int _unlarge(self) except -1
    cdef void _drop_large(self) noexcept
    cdef Py_ssize_t _fill_large(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1
    cdef bint _grow_large(self, Py_ssize_t need) except -1
    cdef int _finish_large(self, list frames) except -1

    # -- what each framing provides (framings.pxi) -------------------------------
    # _cut: cut every whole frame of p[pos:n] into frames, return where the
    # first unfinished (or bad: the error is set) frame starts.  _cut_one: the
    # whole frame at p, or None (then _cut decides: nothing whole, or an error).  _want: how many
    # more bytes the held frame needs before _cut can decide it (0: it can).
    # _skip_in: discard an oversize frame's bytes.  _layout: the wire size,
    # stripped head and final byte of the frame at p, once its header is whole.
    # _expected: the held frame's size on the wire, if its header says.
    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1
    cdef object _cut_one(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t* used)
    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1
    cdef Py_ssize_t _skip_in(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1
    cdef bint _layout(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* total, Py_ssize_t* strip,
        int* trail
    ) except -1
    cdef object _expected(self)


cdef class _LengthFormat:
    cdef Field field
    cdef int width
    cdef bint big
    cdef Py_ssize_t offset, header, strip, max_size
    cdef int64_t adjustment
    # valid field values: vmin <= value <= vmax (vmin 1, vmax 0: none is)
    cdef uint64_t vmin, vmax
    cdef object encode_max


@cython.final
cdef class LengthPrefixedDecoder(Decoder):
    cdef _LengthFormat _fmt
    cdef Field _field
    cdef Py_ssize_t _off, _hl, _strip
    cdef int64_t _adj
    cdef uint64_t _vmin, _vmax

    cdef int _bad_header(self, uint64_t value) except -1


@cython.final
cdef class DelimitedDecoder(Decoder):
    cdef bytes _delim
    cdef const unsigned char* _d
    cdef Py_ssize_t _dl, _limit
    cdef bint _keep, _strip_cr

    cdef int _oversize_delimited(self) except -1
    cdef Py_ssize_t _skipped(self, Py_ssize_t pos) noexcept


@cython.final
cdef class FixedSizeDecoder(Decoder):
    cdef Py_ssize_t _size


@cython.final
cdef class UntilEofDecoder(Decoder):
    pass


cdef class _PrefixedDecoder(Decoder):
    # a decimal or varint length, then the body, then (netstrings) _trail
    cdef int _trail  # the byte after the body, or -1
    cdef int _short  # a first byte below this is the whole header, and the length

    cdef Header _header(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* length, Py_ssize_t* hl
    ) except? BAD
    cdef object _exact_length(self, const unsigned char* p, Py_ssize_t hl, uint64_t length)


@cython.final
cdef class NetstringDecoder(_PrefixedDecoder):
    pass


@cython.final
cdef class VarintPrefixedDecoder(_PrefixedDecoder):
    pass


cdef class _Codec:
    # encode in two passes: sizes and checks (_frame_size), then bytes (_head,
    # the payload, _tail)
    cdef Py_ssize_t _frame_size(self, const unsigned char* p, Py_ssize_t n) except -1
    cdef unsigned char* _head(
        self, unsigned char* out, const unsigned char* head, Py_ssize_t n
    ) noexcept
    cdef unsigned char* _tail(self, unsigned char* out, Py_ssize_t n) noexcept
    @cython.final
    cdef unsigned char* _write(
        self, unsigned char* out, const unsigned char* head, const unsigned char* p, Py_ssize_t n
    ) noexcept
    cdef tuple _affix(self, object payload, const unsigned char* head)
    cdef object _encode(self, object payload, const unsigned char* head)
    cdef object _encode_many(self, object payloads, const unsigned char* head)
    cdef unsigned char* _write_checked(
        self, unsigned char* out, unsigned char* end, const unsigned char* head,
        const unsigned char* p, Py_ssize_t n
    ) except NULL


@cython.final
cdef class LengthPrefixedCodec(_Codec):
    cdef _LengthFormat _fmt

    cdef int _check_head(self, head, Py_buffer* view) except -1


@cython.final
cdef class DelimitedCodec(_Codec):
    cdef bytes _delim
    cdef const unsigned char* _d
    cdef Py_ssize_t _dl, _max
    cdef bint _keep, _strip_cr


@cython.final
cdef class FixedSizeCodec(_Codec):
    cdef Py_ssize_t _size


cdef class _PrefixedCodec(_Codec):
    cdef Py_ssize_t _max
    cdef int _tail_size

    cdef int _header_size(self, Py_ssize_t n) noexcept


@cython.final
cdef class NetstringCodec(_PrefixedCodec):
    pass


@cython.final
cdef class VarintPrefixedCodec(_PrefixedCodec):
    pass


cdef class SocketLoop


# what a FramedSocket's decoder cuts (the numbers of fastframe/_reads.py)
cdef enum Kind:
    FRAMES  # frames of the socket's framer
    EXACTLY  # raw reads
    UNTIL
    UNTIL_EOF


cdef struct Call:
    # read from the socket once per call, before its first system call, so that
    # each call (in each thread) has its own deadline
    bint ready
    int fd
    double timeout  # < 0: blocking; 0: non-blocking
    double deadline


@cython.final
cdef class _Frames:
    cdef SocketLoop _loop


cdef class SocketLoop:
    # FramedSocket's hot loop: receiving, cutting, sending, closing.  The API
    # around it (fastframe/socket.py) reads the readonly fields and calls the
    # Python-level methods _open, _set_framer, _read, _write and _detach (their
    # signatures are in core.pyi, the twin's in _core_py/socket.py).
    cdef readonly object _sock  # the socket, or the TLS transport (_tls) over it
    cdef readonly object _tls  # None, or a TLS transport of fastframe._tls
    cdef readonly object _framer
    cdef readonly object _codec
    cdef readonly Decoder _dec
    cdef Kind _kind
    cdef object _key  # the framer, or the raw read, that _dec decodes for
    cdef bint _eof
    cdef bint _receiving, _sending
    cdef object _closing  # closed by another thread's close(), still in use by a call
    cdef bint _fd_path  # system calls on the descriptor, else the socket's methods
    cdef list _out  # queued output, oldest first
    cdef Py_ssize_t _out_pos  # bytes of _out[0] already sent
    cdef readonly Py_ssize_t _out_size  # bytes queued and not sent

    cdef object _next_frame(self)
    cdef object _held(self, Kind kind, object key)
    cdef object _one(self, Kind kind, object key)
    cdef bint _fits(self, Kind kind, object key)
    cdef list _receive(self, Kind kind, object key, Py_ssize_t quota)
    cdef list _at_eof(self, Decoder dec)
    cdef int _switch(self, Kind kind, object key) except -1
    cdef int _cut_held(self, Decoder dec, list frames, Py_ssize_t quota) except -1
    cdef int _recv_into(self, Decoder dec, Call* call, object waiter) except -1
    cdef int _recv_object(self, Decoder dec, const Area* area, object waiter) except -1
    cdef int _prepare(self, Call* call) except -1
    cdef bint _waited(self, int err, bint writing, Call* call) except -1
    cdef int _check_head(self, head) except -1
    cdef object _encode_many(self, payloads, head)
    cdef list _affixed(self, payload, head)
    cdef bint _drain(self, Call* call) except -1
    cdef bint _send_object(self, object waiter) except -1
    cdef int _advance(self, Py_ssize_t sent) except -1
    cdef int _own_queue(self) except -1
    cdef int _finish_close(self) except -1
    cdef int _check_open(self) except -1


cdef extern from "Python.h":
    # what resuming a coroutine gives (am_send): a result, a value yielded, an error
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT


cdef class ReaderLoop:
    # fastframe.aio's FramedReader, per frame: the API around it (aio.py)
    # reads and writes these fields, calls _open and _received, and
    # provides the methods this class calls: _recv_slow (every wait),
    # _maybe_resume, _pause and _wake.  The frames are cut by _fs, a
    # FramedSocket loop over a fastframe._fed transport: what the protocol reads
    # goes into it with _take_in, and it cuts as a socket's loop does.
    cdef readonly SocketLoop _fs
    cdef public Py_ssize_t _high, _low  # flow control: bytes held
    cdef public bint _paused
    cdef public bint _hungry  # a call waits for more than is held, and has not been woken

    cdef object _take_held(self)


@cython.final
cdef class _Receive:
    cdef ReaderLoop _loop  # None once finished
    cdef object _waiting  # the coroutine _recv_slow() made, while it runs
    cdef bint _iterating  # __anext__: a clean end is StopAsyncIteration
    cdef bint _done

    cdef PySendResult _resume(self, object value, PyObject** result) except PYGEN_ERROR
    cdef void _finished(self) noexcept
