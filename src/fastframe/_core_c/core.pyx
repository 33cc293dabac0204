# cython: language_level=3, embedsignature=True, autotestdict=False, auto_pickle=False
"""The compiled core: the same classes and behaviour as the twin
(``fastframe._core_py``), in C.

Frames are cut straight out of the caller's buffer (one PyBytes per frame, nothing
else allocated per frame); only the unfinished frame at the end of a chunk is
copied into the decoder's own buffer.  A frame of LARGE_FRAME bytes or more is
built in its final bytes object as its bytes arrive, so it is copied only once.

core.pxd declares every class's fields and the C methods between classes; the
code is in the files included below, one job each, split as the twin is.
"""

cimport cython
from cpython.buffer cimport (
    PyBUF_SIMPLE, PyBuffer_FillInfo, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer,
)
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.memoryview cimport PyMemoryView_FromObject
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from cpython.sequence cimport PySequence_Fast, PySequence_Fast_GET_SIZE, PySequence_Fast_ITEMS
from libc.errno cimport EINTR, errno
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memchr, memcmp, memcpy, memmove, strerror

from socket import SHUT_RDWR as _SHUT_RDWR

from .. import _checks, _limits, _messages, _reads, _sending, _waiting
from ..errors import ConnectionClosed, FrameTooLarge, IncompleteFrame

cdef extern from "Python.h":
    # resizes a bytes object nobody else references; on failure frees it
    int _PyBytes_Resize(PyObject** bytes, Py_ssize_t newsize) except -1
    Py_ssize_t _refcnt "Py_REFCNT"(PyObject* o)
    char* _bytes_data "PyBytes_AS_STRING"(PyObject* o)
    const Py_ssize_t PY_SSIZE_T_MAX

IMPLEMENTATION = "cython"

# A decoder holding nothing points here, and so does a call with no bytes, never
# at NULL: NULL plus an offset is undefined behaviour in C, even an offset of 0
# (UBSan reports it).
cdef unsigned char _no_bytes[1]

# the numbers core.pxd gives its constants are the shared modules'
assert (RECV_SIZE, LARGE_FRAME, RESERVE_AHEAD, VARINT_MAX, NETSTRING_DIGITS) == (
    _limits.RECV_SIZE, _limits.LARGE_FRAME, _limits.RESERVE_AHEAD, _limits.VARINT_MAX,
    _limits.NETSTRING_DIGITS,
)
assert (FRAMES, EXACTLY, UNTIL, UNTIL_EOF) == (_reads.FRAMES, _reads.EXACTLY, _reads.UNTIL, _reads.UNTIL_EOF)

include "bytes.pxi"      # length fields and delimiters on raw bytes
include "decode.pxi"     # Decoder: the stream machinery, and the seam
include "framings.pxi"   # a decoder per framing: how it cuts frames
include "encode.pxi"     # a codec per framing: encoding, and its decoders
include "socket.pxi"     # SocketLoop: FramedSocket's receive and send loops
include "reader.pxi"     # ReaderLoop: fastframe.aio's FramedReader, per frame
