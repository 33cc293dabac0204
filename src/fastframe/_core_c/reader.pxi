# ReaderLoop: what fastframe.aio's FramedReader does per frame, in C: hand over a
# frame already received, for an ``await`` that costs about a method call.  The
# API around it, written once for both cores, is fastframe/aio.py; it also does
# all the waiting (ReaderAPI._recv_slow), so only a frame that is whole among
# the bytes held is cut here.  The protocol hands each read's bytes to _received.

cdef extern from "Python.h":
    ctypedef PySendResult (*sendfunc)(PyObject*, PyObject*, PyObject**)
    ctypedef struct PyAsyncMethods:
        sendfunc am_send
    ctypedef struct _TypeObject "PyTypeObject":
        PyAsyncMethods* tp_as_async
    PySendResult PyIter_Send(object iterator, object arg, PyObject** presult)


cdef class ReaderLoop:
    """FramedReader's bytes received and not yet returned, and the calls that
    return a frame of them (the class fastframe.aio's FramedReader adds its API
    to)."""

    def _open(self, SocketLoop fs not None, Py_ssize_t high_water, Py_ssize_t low_water):
        """Start on ``fs`` (a loop over a fastframe._fed transport); reading
        pauses above ``high_water`` bytes held, resumes at ``low_water``."""
        self._fs = fs
        self._high = high_water
        self._low = low_water
        self._paused = False
        self._hungry = False

    def recv(self):
        """The next frame.

        :raises ConnectionClosed: if the stream ended between frames (every
            later call raises it again)
        :raises IncompleteFrame: if it ended inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing, or
            ``FramedWriter.start_tls()`` refused the bytes held; every later
            call raises it again
        :raises RuntimeError: if another task is already waiting on this reader
        :raises OSError: if the connection was lost to an error
            (``ConnectionResetError``, ``ssl.SSLError`` over TLS...): that
            error, once every frame before it is returned, and again by every
            later call
        """
        cdef _Receive call = _Receive.__new__(_Receive)
        call._loop = self
        return call

    def __anext__(self):
        cdef _Receive call = _Receive.__new__(_Receive)
        call._loop = self
        call._iterating = True
        return call

    def _received(self, data):
        """Bytes a read brought, held for the calls (called by the protocol)."""
        self._fs._take_in(data)
        # a call waiting needs more than is held (a frame bigger than
        # high_water): reading goes on for it
        if not self._paused and not self._hungry and self._fs._dec.held() > self._high:
            self._pause()
        self._wake()

    def _idle(self):
        """A call is about to wait: a buffer holding nothing is freed, so that
        an idle connection costs no receive buffer (the twin's are bytes
        objects, freed once taken)."""
        self._fs._dec.release_if_empty()

    cdef object _take_held(self):
        frame = self._fs._held(FRAMES, None)
        if frame is not None:
            self._fs._dec.release_if_empty()  # an idle connection holds no buffer
            # while paused, a test per frame: in C, then the API's call to resume
            if self._paused and self._fs._dec.held() <= self._low:
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
            frame = self._loop._take_held()
            if frame is not None:
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
