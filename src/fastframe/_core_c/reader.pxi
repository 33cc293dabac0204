# ReaderLoop: what fastframe.aio's FramedReader does per frame, in C: hand over a
# frame already received, for an ``await`` that costs about a method call.  The
# API around it, written once for both cores, is fastframe/aio.py; it also does
# all the waiting (ReaderAPI._recv_slow), so only a frame that is there is taken
# here.  The protocol hands each read's frames to _feed.

cdef extern from "Python.h":
    ctypedef PySendResult (*sendfunc)(PyObject*, PyObject*, PyObject**)
    ctypedef struct PyAsyncMethods:
        sendfunc am_send
    ctypedef struct _TypeObject "PyTypeObject":
        PyAsyncMethods* tp_as_async
    PySendResult PyIter_Send(object iterator, object arg, PyObject** presult)


cdef class ReaderLoop:
    """FramedReader's frames received and not yet returned, and the calls that
    return one (the class fastframe.aio's FramedReader adds its API to)."""

    def _open(self, Py_ssize_t high_water, Py_ssize_t low_water):
        """Start empty; reading pauses above ``high_water`` bytes held, resumes at
        ``low_water``."""
        self._frames = deque()
        self._popleft = self._frames.popleft
        self._extend = self._frames.extend
        self._unread = 0
        self._high = high_water
        self._low = low_water
        self._paused = False

    def recv(self):
        """The next frame (an awaitable)."""
        cdef _Receive call = _Receive.__new__(_Receive)
        call._loop = self
        return call

    def __anext__(self):
        cdef _Receive call = _Receive.__new__(_Receive)
        call._loop = self
        call._iterating = True
        return call

    def _feed(self, list frames not None):
        """Hold the frames a read completed, in order (called by the protocol)."""
        cdef Py_ssize_t size = 0
        cdef Py_ssize_t i, n = PyList_GET_SIZE(frames)
        self._extend(frames)
        for i in range(n):
            size += PyBytes_GET_SIZE(<object>PyList_GET_ITEM(frames, i)) + FRAME_OVERHEAD
        self._unread += size
        if self._unread > self._high and not self._paused:
            self._pause()
        self._wake()

    def _take(self):
        """The oldest frame held (there is one), counted out of what is held."""
        return self._take_held()

    cdef object _take_held(self):
        frame = self._popleft()
        self._unread -= len(frame) + FRAME_OVERHEAD
        if self._paused and self._unread <= self._low:  # (while paused, a test per frame)
            self._maybe_resume()
        return frame


@cython.final
@cython.freelist(16)
cdef class _Receive:
    """One recv() (or __anext__()) of a ReaderLoop: a coroutine that returns the
    frame held when it is first resumed, else waits as ReaderAPI._recv_slow()
    does, resumed through it.  Like a coroutine, it takes the frame when it is
    awaited, not when it is made: a call cancelled before it ran loses nothing."""

    def __await__(self):
        return self

    def __next__(self):
        return self.send(None)

    def send(self, value):
        cdef PyObject* result = NULL
        if self._resume(value, &result) == PYGEN_NEXT:
            return <object>_steal(result)
        raise StopIteration(<object>_steal(result))

    def throw(self, typ, value=None, traceback=None):
        if self._waiting is None:
            self._finished()
            if value is None:
                raise typ
            raise value.with_traceback(traceback) if traceback is not None else value
        # the one-argument form where it is one: the three-argument form warns (3.12)
        args = (typ,) if value is None and traceback is None else (typ, value, traceback)
        try:
            return self._waiting.throw(*args)
        except BaseException:
            self._finished()
            raise

    def close(self):
        waiting = self._waiting
        self._finished()
        if waiting is not None:
            waiting.close()

    cdef PySendResult _resume(self, object value, PyObject** result) except PYGEN_ERROR:
        cdef PySendResult status
        if self._waiting is None:
            if self._done:
                raise RuntimeError("cannot reuse already awaited coroutine")
            if self._loop._frames:
                frame = self._loop._take_held()
                self._finished()
                Py_INCREF(frame)
                result[0] = <PyObject*>frame
                return PYGEN_RETURN
            self._waiting = self._loop._recv_slow(self._iterating)
        status = PyIter_Send(self._waiting, value, result)
        if status != PYGEN_NEXT:
            self._finished()
        return status

    cdef void _finished(self) noexcept:
        self._done = True
        self._waiting = None
        self._loop = None


cdef inline object _steal(PyObject* ref):
    """The object of a new reference, which the caller takes over."""
    obj = <object>ref
    Py_DECREF(obj)
    return obj


cdef PySendResult _receive_send(PyObject* call, PyObject* value, PyObject** result) except PYGEN_ERROR:
    return (<_Receive>call)._resume(<object>value, result)


# ``await`` resumes a coroutine through its type's am_send, which returns the
# result without raising StopIteration (Cython gives a class __await__ and
# __next__, not am_send): the frame comes back for about a method call.
(<_TypeObject*>_Receive).tp_as_async.am_send = <sendfunc>_receive_send
