# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The socket floor: the least work a receive loop that hands out ``bytes`` frames
must do, written as a plain C loop.

One ``recv()`` (GIL released) into a malloc'd buffer, then per frame one
``PyBytes_FromStringAndSize`` into the list of that read (dropped at the next read,
as a consumer of ``recv_many()`` would), then the unfinished tail moved to the front.
No timeout, no signal handling beyond EINTR, no max_size, no state kept between
calls: fastframe cannot do less, so it says how close to the machine
``FramedSocket.recv_many()`` is.  Compiled at bench time with ``pyximport`` (see
``bench/floors/__init__.py``); nothing here is part of fastframe.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport EINTR, errno
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memmove

import os


cdef extern from "<sys/socket.h>" nogil:
    ssize_t recv(int fd, void* buf, size_t n, int flags)


cdef inline Py_ssize_t _load_be32(const unsigned char* p) noexcept nogil:
    return <Py_ssize_t>(
        (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]
    )


def recv_floor(sock, Py_ssize_t capacity=65536, bint keep=False):
    """Receive ``[4-byte big-endian length][body]`` frames from ``sock`` until the
    peer closes it.  Returns the number of frames, or with ``keep`` the frames.
    ``capacity`` is the size of each ``recv()`` (grown for a larger frame)."""
    cdef int fd = sock.fileno()
    cdef unsigned char* buf = <unsigned char*>malloc(capacity)
    cdef unsigned char* grown
    cdef Py_ssize_t have = 0, pos, size, wire, count = 0
    cdef ssize_t got
    cdef int err = 0
    cdef list batch
    cdef list out = []
    if buf == NULL:
        raise MemoryError()
    try:
        while True:
            with nogil:
                got = recv(fd, buf + have, capacity - have, 0)
                if got < 0:
                    err = errno
            if got < 0:
                if err == EINTR:
                    PyErr_CheckSignals()
                    continue
                raise OSError(err, os.strerror(err))
            if got == 0:
                if have:
                    raise EOFError(f"the stream ended inside a frame ({have} bytes of it received)")
                return out if keep else count
            have += got
            batch = []
            pos = 0
            while have - pos >= 4:
                size = _load_be32(buf + pos)
                if have - pos - 4 < size:
                    break
                batch.append(PyBytes_FromStringAndSize(<char*>buf + pos + 4, size))
                pos += 4 + size
            count += len(batch)
            if keep:
                out += batch
            if pos:
                memmove(buf, buf + pos, have - pos)
                have -= pos
            if have >= 4:
                wire = 4 + _load_be32(buf)
                if wire > capacity:  # a frame larger than the buffer: make room for it
                    grown = <unsigned char*>realloc(buf, wire)
                    if grown == NULL:
                        raise MemoryError()
                    buf = grown
                    capacity = wire
    finally:
        free(buf)
