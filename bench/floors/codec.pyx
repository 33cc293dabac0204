# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The floors: the least work any decoder or encoder must do, written as plain C loops.

They know the stream layout in advance and skip everything a real framer does (state
across chunks, validation, max_size, buffer management), so no implementation can beat
them; they say how close to the machine a contender is.  Compiled at bench time with
``pyximport`` (see ``bench/floors/__init__.py``); nothing here is part of fastframe.

Decoding floors deliver frames the way ``Decoder.feed`` does when the stream arrives
in ``chunk``-byte pieces: a frame is handed over in the list of the chunk that
completes it, and that list is dropped when the next chunk's list starts, so the
memory traffic matches a consumer that handles each ``feed()`` result and lets it go.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint32_t
from libc.string cimport memcpy


cdef inline Py_ssize_t _load_be32(const unsigned char* p) noexcept nogil:
    return <Py_ssize_t>(
        (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]
    )


cdef inline void _store_be32(unsigned char* p, uint32_t v) noexcept nogil:
    p[0] = <unsigned char>(v >> 24)
    p[1] = <unsigned char>(v >> 16)
    p[2] = <unsigned char>(v >> 8)
    p[3] = <unsigned char>v


def bytes_floor(bytes stream, Py_ssize_t chunk):
    """Decode floor: read each 4-byte big-endian length and create one bytes object
    per frame (``PyBytes_FromStringAndSize``) in a list.  Returns the frame count."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(stream)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(stream)
    cdef Py_ssize_t pos = 0, size, end, count = 0
    cdef Py_ssize_t cut = chunk  # end of the chunk whose frames `batch` holds
    cdef list batch = []
    while n - pos >= 4:
        size = _load_be32(p + pos)
        end = pos + 4 + size
        if end > n:
            break
        if end > cut:  # completed by a later chunk: the previous feed() result is done
            count += len(batch)
            batch = []
            while end > cut:
                cut += chunk
        batch.append(PyBytes_FromStringAndSize(<const char*>p + pos + 4, size))
        pos = end
    return count + len(batch)


def memcpy_floor(bytes stream, Py_ssize_t header, Py_ssize_t size, Py_ssize_t chunk):
    """Copy floor for big frames: every ``header + size`` bytes, one new bytes object
    of ``size`` bytes filled by one ``memcpy``; no length field is read.  Returns the
    frame count."""
    cdef const char* p = PyBytes_AS_STRING(stream)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(stream)
    cdef Py_ssize_t stride = header + size
    cdef Py_ssize_t pos = 0, end, count = 0
    cdef Py_ssize_t cut = chunk
    cdef list batch = []
    cdef bytes frame
    while n - pos >= stride:
        end = pos + stride
        if end > cut:
            count += len(batch)
            batch = []
            while end > cut:
                cut += chunk
        frame = PyBytes_FromStringAndSize(NULL, size)
        memcpy(PyBytes_AS_STRING(frame), p + pos + header, size)
        batch.append(frame)
        pos = end
    return count + len(batch)


def encode_floor(list payloads):
    """Encode floor: one preallocated bytes object, then per payload a 4-byte
    big-endian header stored by shifts and one ``memcpy``.  Payloads must be bytes."""
    cdef Py_ssize_t total = 0, size, pos = 0
    cdef object payload
    for payload in payloads:
        total += 4 + PyBytes_GET_SIZE(<bytes?>payload)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef unsigned char* q = <unsigned char*>PyBytes_AS_STRING(out)
    for payload in payloads:
        size = PyBytes_GET_SIZE(<bytes>payload)
        _store_be32(q + pos, <uint32_t>size)
        memcpy(q + pos + 4, PyBytes_AS_STRING(<bytes>payload), size)
        pos += 4 + size
    return out
