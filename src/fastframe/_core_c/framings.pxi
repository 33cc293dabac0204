# A decoder per framing: how it cuts whole frames out of bytes, what a held
# unfinished frame still needs, and what its header announces (the hooks core.pxd
# lists).  The stream machinery they plug into is decode.pxi.

cdef class _LengthFormat:
    """Shared option arithmetic of LengthPrefixed's decoder and encoder."""

    def __cinit__(self, framer):
        self.width = framer.width
        self.big = framer.byteorder == "big"
        self.field = <Field>(self.width if self.big or self.width == 1 else self.width | LITTLE)
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


cdef class LengthPrefixedDecoder(Decoder):
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

    cdef object _cut_one(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t* used):
        cdef uint64_t value, total
        if n < self._hl:
            return None
        value = _load(p + self._off, self._field)
        if value < self._vmin or value > self._vmax:
            return None  # the cut that follows reports it
        total = <uint64_t>self._hl + value + <uint64_t>self._adj
        if total > <uint64_t>n:
            return None
        used[0] = <Py_ssize_t>total
        return PyBytes_FromStringAndSize(<const char*>p + self._strip, <Py_ssize_t>total - self._strip)

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


cdef class DelimitedDecoder(Decoder):
    """Frames ending with a delimiter; ``Lines`` also strips one ``\\r`` before it.

    The search for a frame's end stops once no frame within ``max_size`` is
    possible (``_limit`` bytes from its start), so an endless line costs at most
    ``max_size`` plus a few bytes of memory.
    """

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


cdef class FixedSizeDecoder(Decoder):
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


cdef class _PrefixedDecoder(Decoder):
    """A length header (_header: decimal or varint), then the body, then (for
    netstrings) the byte _trail."""

    def __cinit__(self, Py_ssize_t max_size):
        if max_size < 1:
            raise ValueError("invalid max_size")
        self._max = max_size
        self._trail = -1

    cdef Py_ssize_t _cut(
        self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n, list frames
    ) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0, start, extra = self._trail >= 0
        while pos < n and len(frames) < self._quota:
            length = p[pos]
            hl = 1
            if length >= self._short and self._header(p + pos, n - pos, &length, &hl) != COMPLETE:
                return pos
            if length > <uint64_t>self._max:
                size = self._exact_length(p + pos, hl, length)
                wire = hl + size + extra
                self._oversize(size, wire if wire < 2**64 else 2**64 - 1)
                return pos
            start = pos + hl
            if <uint64_t>(n - start) < length + extra:
                return pos
            if extra and p[start + length] != self._trail:
                self._fail(_messages.netstring_no_comma(p[start + length]))
                return pos
            frames.append(PyBytes_FromStringAndSize(<const char*>p + start, <Py_ssize_t>length))
            pos = start + <Py_ssize_t>length + extra
        return pos

    cdef object _exact_length(self, const unsigned char* p, Py_ssize_t hl, uint64_t length):
        """The length the header at p says, exactly (_header's may saturate)."""
        return length

    cdef Header _header(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* length, Py_ssize_t* hl
    ) except? BAD:
        """Parse the header at p[0:n]: its length (a length over 2**64 - 1 is
        reported as that) and its own size."""
        raise NotImplementedError

    cdef Py_ssize_t _want(self, const unsigned char* p, Py_ssize_t pos, Py_ssize_t n) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0, have = self._bend - self._bstart
        cdef Header header = self._header(self._buf + self._bstart, have, &length, &hl)
        if header == INCOMPLETE:
            return 1
        if header == BAD or length > <uint64_t>self._max:
            return 0
        return _still_wanted(<uint64_t>hl + length + (self._trail >= 0), have)

    cdef bint _layout(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* total, Py_ssize_t* strip,
        int* trail
    ) except -1:
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0
        if self._header(p, n, &length, &hl) != COMPLETE:
            return False
        total[0] = hl + length + (self._trail >= 0)
        strip[0] = hl
        trail[0] = self._trail
        return True

    cdef object _expected(self):
        cdef uint64_t length = 0
        cdef Py_ssize_t hl = 0
        if self._header(self._buf + self._bstart, self._bend - self._bstart, &length, &hl) != COMPLETE:
            return None
        return hl + <object>length + (self._trail >= 0)


cdef class NetstringDecoder(_PrefixedDecoder):
    """``b"5:hello,"``: decimal length without leading zeros, ``:``, body, ``,``."""

    def __cinit__(self, Py_ssize_t max_size):
        self._trail = c','

    cdef object _exact_length(self, const unsigned char* p, Py_ssize_t hl, uint64_t length):
        return int(PyBytes_FromStringAndSize(<const char*>p, hl - 1))

    cdef Header _header(
        self, const unsigned char* p, Py_ssize_t n, uint64_t* length, Py_ssize_t* hl
    ) except? BAD:
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


cdef class VarintPrefixedDecoder(_PrefixedDecoder):
    """A base-128 varint (least significant group first) then that many bytes."""

    def __cinit__(self, Py_ssize_t max_size):
        self._short = 0x80

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
