# Included by _rrsim_loops.pyx (one extension): what it declares is in scope here.

# lb-broker: the broker's turns and the worker's receive / ready burst.  Their Python references
# are rrsim/patterns/lb_loops.py's; the dispatcher (strategies, max_outstanding, the book of
# workers) stays in Python and is called as it is there.

cdef char NOTHING[1]


cdef inline bytes msg_bytes(zmq_msg_t *msg):
    return PyBytes_FromStringAndSize(<char *>zmq_msg_data(msg), <Py_ssize_t>zmq_msg_size(msg))


cdef object recv_rest(void *socket, zmq_msg_t *msg, list frames):
    """The frames of a message that follow the one in ``msg`` (already received), appended to ``frames``."""
    while zmq_msg_more(msg):
        while zmq_msg_recv(msg, socket, 0) < 0:  # the rest of a message is there at once
            if zmq_errno() != EINTR:
                raise OSError(zmq_errno(), "zmq_msg_recv")
        frames.append(msg_bytes(msg))
    return frames


cdef object recv_frames(void *socket, int flags, int *error):
    """A whole message as a list of bytes, as pyzmq's recv_multipart; None and ``error`` if none."""
    cdef zmq_msg_t msg
    cdef int rc
    zmq_msg_init(&msg)
    if flags & ZMQ_DONTWAIT:
        rc = zmq_msg_recv(&msg, socket, flags)
    else:
        with nogil:
            rc = zmq_msg_recv(&msg, socket, flags)
    if rc < 0:
        error[0] = zmq_errno()
        zmq_msg_close(&msg)
        return None
    error[0] = 0
    try:
        return recv_rest(socket, &msg, [msg_bytes(&msg)])
    finally:
        zmq_msg_close(&msg)


cdef int send_frame(void *socket, const char *data, size_t size, int flags) noexcept nogil:
    """0, or the errno of a send that failed (EINTR: sent again, as pyzmq does)."""
    while zmq_send(socket, data, size, flags) < 0:
        if zmq_errno() != EINTR:
            return zmq_errno()
    return 0


cdef inline bint digits(bytes word):
    """``word.isdigit() and len(word) <= 18``."""
    cdef Py_ssize_t i, n = PyBytes_GET_SIZE(word)
    cdef const char *at = PyBytes_AS_STRING(word)
    if n == 0 or n > 18:
        return False
    for i in range(n):
        if at[i] < 48 or at[i] > 57:
            return False
    return True


cdef inline int64_t number(bytes word):
    cdef Py_ssize_t i
    cdef const char *at = PyBytes_AS_STRING(word)
    cdef int64_t value = 0
    for i in range(PyBytes_GET_SIZE(word)):
        value = value * 10 + (at[i] - 48)
    return value


cdef class BrokerTurns:
    """lb-broker's broker loop, turn after turn (``lb_loops.PythonTurns``, the reference): wait for
    a worker's word or a message, read each worker's word and hand out at once, read the frontend
    while there is room, hand out.  The dispatcher and every word but a plain READY are Python's."""

    cdef void *frontend
    cdef void *backend
    cdef object held, workers, reqs, heard
    cdef object ready, next, full, gone, reqs_gone, append, popleft
    cdef Py_ssize_t bound, backend_burst, frontend_burst
    cdef long poll_ms
    cdef bytes ready_word

    def __init__(self, uintptr_t frontend, uintptr_t backend, held, workers, reqs, heard, Py_ssize_t bound,
                 bytes ready_word, Py_ssize_t backend_burst, Py_ssize_t frontend_burst, long poll_ms):
        if zmq_msg_recv == NULL:
            raise RuntimeError("_rrsim_loops.bind was not called")
        self.frontend, self.backend = <void *>frontend, <void *>backend
        self.held, self.workers, self.reqs, self.heard = held, workers, reqs, heard
        self.ready, self.next, self.full, self.gone = workers.ready, workers.next, workers.full, workers.gone
        self.reqs_gone, self.append, self.popleft = reqs.gone, held.append, held.popleft
        self.bound, self.ready_word = bound, ready_word
        self.backend_burst, self.frontend_burst, self.poll_ms = backend_burst, frontend_burst, poll_ms

    def turns(self, int64_t until_ns):
        """Turns until ``until_ns`` (CLOCK_MONOTONIC) has passed, or a user's program claims a
        worker (its words are read with their peer: Python's turns do that); returns how many
        messages were handed out."""
        cdef Py_ssize_t routed = 0
        while not (self.reqs.claimed or self.reqs.group_of):
            routed += self.turn()
            if monotonic_ns() >= until_ns:
                break
        return routed

    cdef Py_ssize_t turn(self) except -1:
        cdef zmq_pollitem_t items[2]
        cdef int error = 0, rc, count
        cdef Py_ssize_t routed = 0, room, i
        cdef bint backend_ready = False
        if len(self.held) and not len(self.workers) and not self.reqs.claimed:
            # A backlog and nobody ready: wait for a worker's word alone (RCVTIMEO ends the wait).
            frames = recv_frames(self.backend, 0, &error)
            if frames is None:
                check(error)
            else:
                self.hear(frames)
                routed += self.hand_out()
                backend_ready = True
        else:
            items[0].socket, items[0].fd, items[0].events, items[0].revents = self.backend, 0, ZMQ_POLLIN, 0
            items[1].socket, items[1].fd, items[1].events, items[1].revents = self.frontend, 0, ZMQ_POLLIN, 0
            count = 2 if len(self.held) < self.bound else 1
            with nogil:
                rc = zmq_poll(items, count, self.poll_ms)
            if rc < 0:
                check(zmq_errno())
            backend_ready = rc > 0 and items[0].revents & ZMQ_POLLIN
        if backend_ready:
            for i in range(self.backend_burst):
                if self.reqs.claimed:
                    break  # Python's turns read the rest, with their peers
                frames = recv_frames(self.backend, ZMQ_DONTWAIT, &error)
                if frames is None:
                    check(error)
                    break
                self.hear(frames)
                if len(self.held):
                    routed += self.hand_out()
        room = min(self.frontend_burst, self.bound - len(self.held))
        while room > 0:
            frames = recv_frames(self.frontend, ZMQ_DONTWAIT, &error)
            if frames is None:
                check(error)
                break
            self.append(frames)
            room -= 1
        return routed + self.hand_out()

    cdef int hear(self, list frames) except -1:
        cdef bytes identity = frames[0]
        if (len(frames) == 4 and PyBytes_GET_SIZE(frames[1]) == 0 and frames[2] == self.ready_word
                and digits(frames[3])):
            self.ready(identity, number(frames[3]), monotonic_ns())  # [identity, empty, READY, done]
        else:
            self.heard(identity, frames[1:], None)
        return 0

    cdef Py_ssize_t hand_out(self) except -1:
        cdef Py_ssize_t handed = 0, i, n
        cdef int error
        cdef list message
        cdef bytes frame
        while len(self.held):
            identity = self.next(monotonic_ns())
            if identity is None:
                break  # nobody has room: the messages wait here
            message = self.held[0]
            n = len(message)
            error = send_frame(self.backend, PyBytes_AS_STRING(identity), PyBytes_GET_SIZE(identity),
                               ZMQ_SNDMORE | ZMQ_DONTWAIT)
            if not error:
                error = send_frame(self.backend, NOTHING, 0, (ZMQ_SNDMORE if n else 0) | ZMQ_DONTWAIT)
            for i in range(n):
                if error:
                    break
                frame = message[i]
                error = send_frame(self.backend, PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame),
                                   (ZMQ_SNDMORE if i < n - 1 else 0) | ZMQ_DONTWAIT)
            if error == EAGAIN:
                self.full(identity)  # its pipe is full: skipped until it says ready
                continue
            if error == EHOSTUNREACH:
                self.gone(identity)  # gone since it said ready (ROUTER_MANDATORY)
                self.reqs_gone(identity)
                continue
            if error:
                raise OSError(error, "zmq_send")
            self.popleft()
            handed += 1
        return handed


cdef int check(int error) except -1:
    """EAGAIN (a timeout, or nothing there) and EINTR end a wait normally; anything else is raised."""
    if error != EAGAIN and error != EINTR:
        raise OSError(error, "libzmq")
    return 0


cdef class ReadyBurst(Kept):
    """lb-broker's worker: receive ``[empty, message]``, keep its receipt, say ``[empty, READY,
    done]``, and again (``lb_loops.WorkerLoop.python_burst``, the reference), while messages carry
    no work.  It stops at the first message Python must take itself (another shape, at or after
    ``deadline_ns``, the batch's last room, once the runtime is stopping, or at or after
    ``until_ns`` with input on a ``watched`` socket: control or a monitor; without, it looks
    again ``check_ns`` later), which it returns unhandled, or when a receive times out (the
    socket's RCVTIMEO)."""

    cdef bytes ready_word
    cdef object runtime
    cdef zmq_pollitem_t watched[16]
    cdef int watching

    def __init__(self, uintptr_t socket, bytes magic, bytes ready_word, Py_ssize_t capacity, runtime, watched):
        super().__init__(socket, magic, capacity)
        self.ready_word, self.runtime = ready_word, runtime
        if len(watched) > 16:
            raise ValueError("at most 16 watched sockets")
        self.watching = len(watched)
        for i, handle in enumerate(watched):
            self.watched[i].socket, self.watched[i].fd = <void *><uintptr_t>handle, 0
            self.watched[i].events, self.watched[i].revents = ZMQ_POLLIN, 0

    cdef bint input_watched(self) except -1:
        cdef int rc = zmq_poll(self.watched, self.watching, 0)
        if rc < 0:
            check(zmq_errno())
        return rc > 0

    def burst(self, int64_t until_ns, int64_t check_ns, int64_t deadline_ns, Py_ssize_t room, int64_t offset_ns,
              int64_t done):
        """Returns (kept, foreign, done, now_ns, the frames of the message left to Python or None,
        errno): errno 0, EAGAIN or EINTR end a burst normally."""
        cdef zmq_msg_t head, body
        cdef Py_ssize_t kept = 0, foreign = 0
        cdef int rc, error = 0, parts
        cdef int64_t now = 0
        cdef const char *ready_word = self.ready_word
        cdef size_t ready_size = len(self.ready_word)
        cdef char count[24]
        cdef int count_size
        cdef int64_t value
        cdef bint more
        frames = None
        room = min(room, self.capacity)
        zmq_msg_init(&head)
        zmq_msg_init(&body)
        try:
            while True:
                with nogil:
                    rc = zmq_msg_recv(&head, self.socket, 0)
                if rc < 0:
                    error = zmq_errno()
                    now = monotonic_ns() + offset_ns
                    break
                now = monotonic_ns() + offset_ns
                parts, more = 1, zmq_msg_more(&head)
                if more:
                    while zmq_msg_recv(&body, self.socket, 0) < 0:
                        if zmq_errno() != EINTR:
                            raise OSError(zmq_errno(), "zmq_msg_recv")
                    parts, more = 2, zmq_msg_more(&body)
                if now >= until_ns and not self.input_watched():
                    until_ns = now + check_ns  # nothing for the loop's bookkeeping: look again later
                if (parts != 2 or more or zmq_msg_size(&head) != 0 or now >= until_ns or now >= deadline_ns
                        or kept + 1 >= room or self.runtime.stopping):
                    frames = [msg_bytes(&head)] + ([msg_bytes(&body)] if parts == 2 else [])
                    if more:
                        recv_rest(self.socket, &body, frames)
                    break
                if self.keep(<const unsigned char *>zmq_msg_data(&body), <Py_ssize_t>zmq_msg_size(&body), kept, now):
                    kept += 1
                else:
                    foreign += 1
                done += 1
                # b"%d" % done
                value, count_size = done, 0
                while True:
                    count[23 - count_size] = <char>(48 + value % 10)
                    count_size += 1
                    value //= 10
                    if value == 0:
                        break
                with nogil:
                    error = send_frame(self.socket, NOTHING, 0, ZMQ_SNDMORE)
                    if not error:
                        error = send_frame(self.socket, ready_word, ready_size, ZMQ_SNDMORE)
                    if not error:
                        error = send_frame(self.socket, &count[24 - count_size], count_size, 0)
                if error:
                    raise OSError(error, "zmq_send")
                PyErr_CheckSignals()  # a handler (SIGTERM: stopping) runs between messages, as in Python
        finally:
            zmq_msg_close(&head)
            zmq_msg_close(&body)
        return kept, foreign, done, now, frames, error
