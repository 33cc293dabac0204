# A codec per framing: encoding (one exact-size bytes object per call, written in
# two passes: sizes and checks, then bytes), and the framing's decoders.

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

    cdef unsigned char* _write(
        self, unsigned char* out, const unsigned char* head, const unsigned char* p, Py_ssize_t n
    ) noexcept:
        out = self._head(out, head, n)
        memcpy(out, p, n)
        return self._tail(out + n, n)

    cdef tuple _affix(self, object payload, const unsigned char* head):
        """(what goes before, what goes after) the payload in its frame: a big
        payload is sent between them, never copied into one frame."""
        cdef Py_buffer view
        cdef unsigned char* out
        cdef unsigned char* mid
        _get_bytes_like(payload, &view)
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
        _get_bytes_like(payload, &view)
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
                _get_bytes_like(item, &view)
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
                _get_bytes_like(item, &view)
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

    def decoder(self):
        raise NotImplementedError

    def encode(self, payload):
        return self._encode(payload, NULL)

    def encode_many(self, payloads):
        return self._encode_many(payloads, NULL)

    def affixes(self, payload):
        """(what goes before, what goes after) ``payload`` in its frame."""
        return self._affix(payload, NULL)


cdef class LengthPrefixedCodec(_Codec):
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
        _get_bytes_like(head, view)
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

    def affixes(self, payload, head=b""):
        cdef Py_buffer view
        self._check_head(head, &view)
        try:
            return self._affix(payload, <const unsigned char*>view.buf)
        finally:
            PyBuffer_Release(&view)


cdef class DelimitedCodec(_Codec):
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


cdef class FixedSizeCodec(_Codec):
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


cdef class _PrefixedCodec(_Codec):
    """A length header (_header_size bytes, written by _head), then the payload,
    then (netstrings) the _tail_size bytes _tail writes."""

    def __cinit__(self, framer):
        self._max = framer.max_size

    cdef Py_ssize_t _frame_size(self, const unsigned char* p, Py_ssize_t n) except -1:
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        return self._header_size(n) + n + self._tail_size

    cdef int _header_size(self, Py_ssize_t n) noexcept:
        return 0


cdef class NetstringCodec(_PrefixedCodec):
    def __cinit__(self, framer):
        self._tail_size = 1

    def decoder(self):
        return NetstringDecoder(self._max)

    cdef int _header_size(self, Py_ssize_t n) noexcept:
        return _digits(n) + 1

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


cdef class VarintPrefixedCodec(_PrefixedCodec):
    def decoder(self):
        return VarintPrefixedDecoder(self._max)

    cdef int _header_size(self, Py_ssize_t n) noexcept:
        cdef int count = 1
        cdef uint64_t rest = n
        while rest > 0x7F:
            rest >>= 7
            count += 1
        return count

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
