# Length fields and delimiters on raw bytes: loads and stores by shifts (never
# unaligned casts), the delimiter searches the decoders and encoders share, and
# the buffer of a bytes-like argument.

cdef int _get_bytes_like(object obj, Py_buffer* view) except -1:
    """PyObject_GetBuffer(obj, view, PyBUF_SIMPLE), refusing what has no buffer
    in the words both cores use (its own say "a bytes-like object is required")."""
    if not PyObject_CheckBuffer(obj):
        raise _messages.not_bytes_like(obj)
    PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    return 0


cdef inline uint64_t _load(const unsigned char* p, Field field) noexcept nogil:
    if field == BE32:
        return (<uint64_t>p[0] << 24) | (<uint64_t>p[1] << 16) | (<uint64_t>p[2] << 8) | p[3]
    if field == U8:
        return p[0]
    if field == BE16:
        return (<uint64_t>p[0] << 8) | p[1]
    if field == LE16:
        return (<uint64_t>p[1] << 8) | p[0]
    if field == BE24:
        return (<uint64_t>p[0] << 16) | (<uint64_t>p[1] << 8) | p[2]
    if field == LE24:
        return (<uint64_t>p[2] << 16) | (<uint64_t>p[1] << 8) | p[0]
    if field == LE32:
        return (<uint64_t>p[3] << 24) | (<uint64_t>p[2] << 16) | (<uint64_t>p[1] << 8) | p[0]
    cdef uint64_t v = 0
    cdef int i, width = field & 15
    if field & LITTLE:
        for i in range(width - 1, -1, -1):
            v = (v << 8) | p[i]
    else:
        for i in range(width):
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


cdef inline int _digits(Py_ssize_t n) noexcept nogil:
    """Decimal digits of n >= 0 (a netstring's length)."""
    cdef int count = 1
    while n >= 10:
        n //= 10
        count += 1
    return count

