# SocketLoop: what FramedSocket does per frame and per system call, receiving
# into its decoder and sending its queue, on the socket's descriptor (or through
# the socket object's methods where there is none).  The API around it, written
# once for both cores, is fastframe/socket.py.

cdef extern from "io.h" nogil:
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


# what one receive system call gave
cdef enum:
    GOT_EOF
    GOT_BYTES
    GOT_NOTHING  # non-blocking socket, nothing to read


cdef class _Frames:
    """What ``for frame in fs`` iterates: the frames until a clean EOF.  Not the
    FramedSocket itself: Cython lists __next__ among a class's methods, so that
    Python's generic slot would call it for FramedSocket, a Python subclass
    (about 110 instructions more per frame, measured with callgrind)."""

    def __iter__(self):
        return self

    def __next__(self):
        return self._loop._next_frame()


cdef class SocketLoop:
    """FramedSocket's receive and send loops (the class fastframe.socket's
    FramedSocket adds its API to)."""

    def __cinit__(self, *args, **kwargs):
        self._out = []

    def _open(self, sock, framer, codec):
        """Start on ``sock`` (checked), framing with ``framer`` and its ``codec``."""
        self._set_framer(framer, codec)
        self._dec = codec.decoder()
        self._key = framer
        self._fd_path = _fd_path_on
        self._sock = sock  # last: a FramedSocket without a socket is closed

    def _use_tls(self, transport):
        """Receive and send through ``transport`` (of fastframe._tls) from now on."""
        if self._receiving or self._sending:
            raise _messages.busy("receiving" if self._receiving else "sending")
        self._check_open()
        self._fd_path = False
        self._tls = transport
        self._sock = transport

    def _take_in(self, data):
        """Bytes an async front end received itself (over a fastframe._fed
        transport), held for the next cut."""
        cdef const unsigned char[::1] view = data
        if self._receiving:
            raise _messages.busy("receiving")
        self._check_open()
        if view.shape[0]:
            self._dec.take_in(&view[0], view.shape[0])

    def _set_framer(self, framer, codec):
        """Frame what follows with ``framer`` (checked) and ``codec``, its codec in this core."""
        if self._receiving:  # which bytes the new framing would start at is a race
            raise _messages.busy("receiving")
        self._codec = codec
        self._framer = framer

    # -- receiving ------------------------------------------------------------

    # a method descriptor, not a function object: the call costs ~100 fewer
    # instructions, a sixth of the call's cost (callgrind)
    @cython.binding(False)
    def recv(self):
        """The next frame (``bytes``).

        :raises ConnectionClosed: if the peer closed the connection between
            frames (every later call raises it again)
        :raises IncompleteFrame: if the peer closed it inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing; every later
            call raises it again
        :raises TimeoutError: if the socket's timeout passed first; the bytes
            received stay buffered for the next call
        :raises BlockingIOError: if the socket is non-blocking and no frame is
            complete yet
        :raises RuntimeError: if another thread is receiving on this
            FramedSocket
        :raises ssl.SSLError: over TLS, for a TLS alert or a corrupt record,
            after every frame before it
        :raises OSError: if the connection fails (``ConnectionResetError``...),
            or with ``errno.EBADF`` if this FramedSocket is closed (by another
            thread during the call too)
        """
        frame = self._held(FRAMES, None)
        return frame if frame is not None else self._one(FRAMES, None)

    def recv_many(self, max_frames=None):
        """Every complete frame, at most ``max_frames``; waits for one unless
        the socket is non-blocking (then ``[]`` when none is complete).  Frames
        come before errors: the call that meets bad input returns the frames
        before it, and the next call raises.

        :raises ConnectionClosed: if the peer closed the connection between
            frames (every later call raises it again)
        :raises IncompleteFrame: if the peer closed it inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing; every later
            call raises it again
        :raises TimeoutError: if the socket's timeout passed first; the bytes
            received stay buffered for the next call
        :raises TypeError: if ``max_frames`` is not None or an int
        :raises ValueError: if ``max_frames`` is below 1
        :raises RuntimeError: if another thread is receiving on this
            FramedSocket
        :raises ssl.SSLError: over TLS, for a TLS alert or a corrupt record,
            after every frame before it
        :raises OSError: if the connection fails (``ConnectionResetError``...),
            or with ``errno.EBADF`` if this FramedSocket is closed (by another
            thread during the call too)
        """
        limit = _checks.check_max_frames(max_frames)
        return self._receive(FRAMES, None, PY_SSIZE_T_MAX if limit is None else limit)

    def __iter__(self):
        cdef _Frames frames = _Frames.__new__(_Frames)
        frames._loop = self
        return frames

    def __next__(self):
        return self._next_frame()

    cdef object _next_frame(self):
        # a frame held is returned outside the try: entering one costs ~40
        # instructions a frame (callgrind)
        frame = self._held(FRAMES, None)
        if frame is not None:
            return frame
        try:
            return self._one(FRAMES, None)
        except IncompleteFrame:
            raise
        except ConnectionClosed:
            raise StopIteration from None

    def _read(self, int kind, key):
        """One raw read (a kind of fastframe._reads, its arguments checked)."""
        frame = self._held(<Kind>kind, key)
        return frame if frame is not None else self._one(<Kind>kind, key)

    cdef object _held(self, Kind kind, object key):
        """The next frame of this kind if it is whole in the buffer (costing
        little more than its bytes object), else None."""
        if self._sock is not None and not self._receiving and self._fits(kind, key):
            return self._dec.cut_held_frame()
        return None

    cdef object _one(self, Kind kind, object key):
        """One frame of this kind when none is held: _receive's."""
        frames = self._receive(kind, key, 1)
        if not frames:
            raise _messages.no_frame_yet()
        return frames[0]

    cdef inline bint _fits(self, Kind kind, object key):
        """Whether the decoder is the one for this kind of read."""
        return self._kind == kind and (
            self._key is self._framer if kind == FRAMES else self._key == key)

    cdef list _receive(self, Kind kind, object key, Py_ssize_t quota):
        """Cut up to quota frames of this kind, receiving as the socket's mode
        allows until there is one ([] only on a non-blocking socket)."""
        cdef list frames
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
                    if dec.ready_to_hand_over(self._eof):
                        self._switch(kind, key)
                        continue
                else:
                    frames = dec.cut(quota)
                    if frames:
                        if self._tls is not None:
                            self._cut_held(dec, frames, quota)
                        if call.ready and call.timeout == 0.0 or waiter is not None and waiter.timeout == 0.0:
                            dec.release_if_empty()
                        return frames
                    if self._eof:
                        return self._at_eof(dec)
                if not self._fd_path and waiter is None:
                    waiter = _waiting.Call(self._sock, self._tls is None)
                got = self._recv_into(dec, &call, waiter)
                if self._sock is None:  # close() in another thread woke the call
                    raise _messages.closed()
                if got == GOT_NOTHING:
                    dec.release_if_empty()
                    return []
                if got == GOT_EOF:
                    self._eof = True
        except OSError:
            if self._sock is None:  # the wake-up's error, not the connection's
                raise _messages.closed() from None
            raise
        finally:
            self._receiving = False
            self._finish_close()

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
        dec.adopt(self._dec)
        self._dec = dec
        self._kind = kind
        self._key = key
        return 0

    cdef int _cut_held(self, Decoder dec, list frames, Py_ssize_t quota) except -1:
        """Add the frames of the decrypted bytes TLS holds: no readiness of the
        socket announces them, so a selectors loop would wait for them forever."""
        cdef Area area
        cdef Py_ssize_t got
        while len(frames) < quota and self._tls.held:
            if not dec.receive_area(&area, False):
                return 0
            view = _area_view(&area)
            try:
                got = self._tls.recv_held_into(view)
            finally:
                view.release()
            if not got:
                return 0
            dec.received(&area, got)
            dec.cut_into(frames, quota)
        return 0

    cdef int _recv_into(self, Decoder dec, Call* call, object waiter) except -1:
        """One receive into the decoder's receive area, waiting as the socket's
        mode says."""
        cdef Area area
        cdef Py_ssize_t got
        cdef int err
        if self._sock is None:  # closed by another thread
            raise _messages.closed()
        if waiter is None:
            self._prepare(call)
        # a signal that came with the last bytes (the call returned them, not
        # EINTR) is handled before waiting again
        PyErr_CheckSignals()
        if not dec.receive_area(&area, waiter is None):
            return GOT_BYTES  # out of memory: the decoder's next cut reports it
        if waiter is not None:
            return self._recv_object(dec, &area, waiter)
        while True:
            with nogil:
                if area.second == NULL:
                    got = ff_recv(call.fd, area.first, area.first_size)
                else:
                    got = ff_recv2(call.fd, area.first, area.first_size, area.second, area.second_size)
                err = errno
            if got > 0:
                dec.received(&area, got)
                return GOT_BYTES
            if got == 0:
                return GOT_EOF
            if not self._waited(err, False, call):
                return GOT_NOTHING

    cdef int _recv_object(self, Decoder dec, const Area* area, object waiter) except -1:
        """_recv_into through the socket object's recv_into() (it waits for a
        blocking socket; waiter for a deadline)."""
        cdef Py_ssize_t got
        view = _area_view(area)
        # The socket's method is called from here, not through Call.attempt: no
        # Python code may run (a signal handler that raises) between its return
        # and the count being kept.
        try:
            while True:
                if waiter.waits_first:
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
        dec.received(area, got)
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
    # send() and send_many() are here, not with the API around them: as Python
    # methods, send() cost each frame about 1,200 instructions more (callgrind,
    # 64-byte frames), send_many() of 64-byte payloads a third of its speed
    # (its scan for big payloads alone cost as much as encoding them).

    def send(self, payload, *, head=None):
        """Send ``payload`` as one frame (``head``: see ``LengthPrefixed.encode``).
        On a non-blocking socket what the socket does not take is queued.

        :raises TypeError: if ``payload`` is not bytes-like, or ``head`` is
            given to a framer other than ``LengthPrefixed``
        :raises BufferError: if ``payload`` is not contiguous in memory
        :raises ValueError: if the framer cannot carry ``payload`` or ``head``
            (see ``Framer.encode``); nothing is sent
        :raises FrameTooLarge: if the frame would exceed the framer's
            ``max_size``; nothing is sent
        :raises TimeoutError: if the socket's timeout passed first; what is not
            sent stays queued (``pending_output``) and goes out first
        :raises RuntimeError: if another thread is sending on this FramedSocket
        :raises OSError: if the connection fails (``BrokenPipeError`` after
            ``shutdown_write()`` too), or with ``errno.EBADF`` if this
            FramedSocket is closed
        """
        self._check_open()
        self._check_head(head)
        if _nbytes(payload) >= LARGE_FRAME:
            self._write(self._affixed(payload, head))
        elif head is None:
            self._write([self._codec.encode(payload)])
        else:
            self._write([self._codec.encode(payload, head)])

    def send_many(self, payloads, *, head=None):
        """Send every payload as a frame, in order; all are checked first.

        :raises TypeError: if ``payloads`` is not iterable, or one is not
            bytes-like, or ``head`` is given to a framer other than
            ``LengthPrefixed``
        :raises BufferError: if a payload is not contiguous in memory
        :raises ValueError: if the framer cannot carry a payload or ``head``
            (see ``Framer.encode``); nothing is sent
        :raises FrameTooLarge: if a frame would exceed the framer's
            ``max_size``; nothing is sent
        :raises TimeoutError: if the socket's timeout passed first; what is not
            sent stays queued (``pending_output``) and goes out first
        :raises RuntimeError: if another thread is sending on this FramedSocket
        :raises OSError: if the connection fails (``BrokenPipeError`` after
            ``shutdown_write()`` too), or with ``errno.EBADF`` if this
            FramedSocket is closed
        """
        cdef Py_ssize_t i
        cdef bint all_small = True
        self._check_open()
        self._check_head(head)
        seq = PySequence_Fast(payloads, b"payloads must be an iterable of bytes-like objects")
        for i in range(PySequence_Fast_GET_SIZE(seq)):
            if _nbytes(<object>PySequence_Fast_ITEMS(seq)[i]) >= LARGE_FRAME:
                all_small = False
                break
        if all_small:
            self._write([self._encode_many(seq, head)])
        else:
            self._write(_sending.parts_to_send(
                seq, lambda small: self._encode_many(small, head), lambda big: self._affixed(big, head)))

    cdef int _check_head(self, head) except -1:
        if head is not None and not isinstance(self._codec, LengthPrefixedCodec):
            raise _messages.head_needs_length_prefixed(self._framer)
        return 0

    cdef object _encode_many(self, payloads, head):
        if head is None:
            return self._codec.encode_many(payloads)
        return self._codec.encode_many(payloads, head)

    cdef list _affixed(self, payload, head):
        """The frame of a big payload as [head, payload, tail]: sent uncopied."""
        if head is None:
            before, after = self._codec.affixes(payload)
        else:
            before, after = self._codec.affixes(payload, head)
        return [before, payload, after]

    def _write(self, list parts):
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
                    waiter = _waiting.Call(self._sock, self._tls is None)
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
        if waiter.waits_first:
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

    def close(self):
        """Close the socket (idempotent); queued output is dropped.  A call
        in another thread is woken and raises ``OSError(EBADF)``; the
        descriptor is closed once that call has returned.

        :raises OSError: only if the socket's own ``close()`` fails (its
            descriptor was closed behind its back)
        """
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

    def _detach(self):
        """(the socket, every byte received and not returned); closed afterwards.
        Nothing may be queued."""
        if self._receiving:
            raise _messages.busy("receiving")
        self._check_open()
        sock = self._sock
        held = self._dec.detach()
        self._sock = None
        return sock, held

    cdef int _check_open(self) except -1:
        if self._sock is None:
            raise _messages.closed()
        return 0


cdef object _area_view(const Area* area):
    """A memoryview of the area's first buffer (which the area's owner keeps alive)."""
    cdef _Window window = _Window.__new__(_Window)
    window.owner = <object>area.owner
    window.ptr = area.first
    window.size = area.first_size
    return PyMemoryView_FromObject(window)


cdef Py_ssize_t _nbytes(object payload) except -1:
    if PyBytes_CheckExact(payload):
        return PyBytes_GET_SIZE(payload)
    return _checks.nbytes(payload)
