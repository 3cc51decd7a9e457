# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""rrsim's per-message loops, compiled: the worker's receive burst, the pusher's send burst, and
lb-broker's broker turns and worker burst.

The Python loops in ``rrsim.child.loops`` are the reference; these do the same between the same
libzmq calls on the same sockets, without the interpreter in between.  libzmq is not linked:
``bind`` is handed the addresses of the few functions used, taken from the libzmq pyzmq itself
loaded (a socket made by one copy of libzmq cannot be used through another), so this module
needs neither zmq.h nor pyzmq at build time.  See docs/compiled.md.
"""

from libc.errno cimport EAGAIN, EHOSTUNREACH, EINTR
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memcmp, memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsUnsignedLong

# The libzmq types and calls, as zmq.h declares them since libzmq 4.0 (zmq_msg_t: 64 opaque
# bytes aligned as a pointer; zmq_pollitem_t on POSIX).
cdef extern from *:
    """
    typedef struct { unsigned char _[64]; } __attribute__((aligned(sizeof(void *)))) rrsim_zmq_msg_t;
    typedef struct { void *socket; int fd; short events; short revents; } rrsim_zmq_pollitem_t;
    """
    ctypedef struct zmq_msg_t "rrsim_zmq_msg_t":
        pass
    ctypedef struct zmq_pollitem_t "rrsim_zmq_pollitem_t":
        void *socket
        int fd
        short events
        short revents

ctypedef int (*zmq_recv_t)(void *socket, void *buf, size_t length, int flags) noexcept nogil
ctypedef int (*zmq_send_t)(void *socket, const void *buf, size_t length, int flags) noexcept nogil
ctypedef int (*zmq_errno_t)() noexcept nogil
ctypedef int (*zmq_msg_init_t)(zmq_msg_t *msg) noexcept nogil
ctypedef int (*zmq_msg_recv_t)(zmq_msg_t *msg, void *socket, int flags) noexcept nogil
ctypedef void *(*zmq_msg_data_t)(zmq_msg_t *msg) noexcept nogil
ctypedef size_t (*zmq_msg_size_t)(const zmq_msg_t *msg) noexcept nogil
ctypedef int (*zmq_msg_more_t)(const zmq_msg_t *msg) noexcept nogil
ctypedef int (*zmq_msg_close_t)(zmq_msg_t *msg) noexcept nogil
ctypedef int (*zmq_poll_t)(zmq_pollitem_t *items, int count, long timeout) noexcept nogil

DEF ZMQ_DONTWAIT = 1
DEF ZMQ_SNDMORE = 2
DEF ZMQ_POLLIN = 1
# The wire (rrsim/wire.py): MAGIC (4 bytes) | pusher index u16 | seq u64 | send time i64 | work u32.
DEF MAGIC_SIZE = 4
DEF HEADER_SIZE = 26
DEF RECEIPT_SIZE = 22
DEF SEQ_OFFSET = 6

ABI = 2  # rrsim.child.loops uses this module only when it expects the same

CALLS = ("zmq_recv", "zmq_send", "zmq_errno", "zmq_msg_init", "zmq_msg_recv", "zmq_msg_data", "zmq_msg_size",
         "zmq_msg_more", "zmq_msg_close", "zmq_poll")
cdef zmq_recv_t zmq_recv = NULL
cdef zmq_send_t zmq_send = NULL
cdef zmq_errno_t zmq_errno = NULL
cdef zmq_msg_init_t zmq_msg_init = NULL
cdef zmq_msg_recv_t zmq_msg_recv = NULL
cdef zmq_msg_data_t zmq_msg_data = NULL
cdef zmq_msg_size_t zmq_msg_size = NULL
cdef zmq_msg_more_t zmq_msg_more = NULL
cdef zmq_msg_close_t zmq_msg_close = NULL
cdef zmq_poll_t zmq_poll = NULL


def bind(uintptr_t recv, uintptr_t send, uintptr_t errno, uintptr_t msg_init, uintptr_t msg_recv,
         uintptr_t msg_data, uintptr_t msg_size, uintptr_t msg_more, uintptr_t msg_close, uintptr_t poll):
    """The addresses of the libzmq calls named in ``CALLS``, in that order, in the libzmq pyzmq loaded."""
    global zmq_recv, zmq_send, zmq_errno, zmq_msg_init, zmq_msg_recv, zmq_msg_data, zmq_msg_size
    global zmq_msg_more, zmq_msg_close, zmq_poll
    zmq_recv = <zmq_recv_t>recv
    zmq_send = <zmq_send_t>send
    zmq_errno = <zmq_errno_t>errno
    zmq_msg_init = <zmq_msg_init_t>msg_init
    zmq_msg_recv = <zmq_msg_recv_t>msg_recv
    zmq_msg_data = <zmq_msg_data_t>msg_data
    zmq_msg_size = <zmq_msg_size_t>msg_size
    zmq_msg_more = <zmq_msg_more_t>msg_more
    zmq_msg_close = <zmq_msg_close_t>msg_close
    zmq_poll = <zmq_poll_t>poll


cdef inline int64_t monotonic_ns() noexcept nogil:
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return <int64_t>now.tv_sec * 1000000000 + now.tv_nsec


cdef inline void put_le(unsigned char *at, uint64_t value, int size) noexcept nogil:
    cdef int i
    for i in range(size):
        at[i] = <unsigned char>(value >> (8 * i))


cdef class Kept:
    """A burst's receipts: each message's 22 header bytes after the magic, and its receive time."""

    cdef void *socket
    cdef unsigned char magic[MAGIC_SIZE]
    cdef unsigned char[::1] heads
    cdef int64_t[::1] stamps
    cdef public Py_ssize_t capacity

    def __init__(self, uintptr_t socket, bytes magic, Py_ssize_t capacity):
        if zmq_recv == NULL:
            raise RuntimeError("_rrsim_loops.bind was not called")
        if len(magic) != MAGIC_SIZE:
            raise ValueError("the magic is 4 bytes")
        self.socket = <void *>socket
        memcpy(self.magic, <const char *>magic, MAGIC_SIZE)
        self.capacity = capacity
        self.heads = bytearray(capacity * RECEIPT_SIZE)
        self.stamps = memoryview(bytearray(capacity * 8)).cast("q")

    cdef inline bint keep(self, const unsigned char *message, Py_ssize_t size, Py_ssize_t at, int64_t now) noexcept nogil:
        """Keep, as receipt ``at``, the header of ``message`` received at ``now``: False if it is not ours."""
        if size < HEADER_SIZE or memcmp(message, self.magic, MAGIC_SIZE) != 0:
            return False
        memcpy(&self.heads[at * RECEIPT_SIZE], &message[MAGIC_SIZE], RECEIPT_SIZE)
        self.stamps[at] = now
        return True

    def heads_bytes(self, Py_ssize_t kept):
        return bytes(self.heads[:kept * RECEIPT_SIZE])

    def stamps_bytes(self, Py_ssize_t kept):
        return bytes(memoryview(self.stamps[:kept]).cast("B"))


cdef class Receiver(Kept):
    """A PULL's receive burst into a batch of receipts, or a count of foreign messages (not ours,
    or shorter than a header)."""

    def burst(self, int64_t until_ns, int64_t offset_ns, Py_ssize_t room):
        """Receive until a receive times out (the socket's RCVTIMEO), a message arrives at or
        after ``until_ns``, or ``room`` receipts are kept.  Returns (kept, foreign, received,
        now_ns, errno): errno 0, EAGAIN or EINTR end a burst normally, anything else is an error."""
        cdef unsigned char buf[HEADER_SIZE]
        cdef Py_ssize_t kept = 0, foreign = 0, received = 0
        cdef int size, error = 0
        cdef int64_t now = 0
        room = min(room, self.capacity)
        with nogil:
            while kept < room:
                size = zmq_recv(self.socket, buf, HEADER_SIZE, 0)
                if size < 0:
                    error = zmq_errno()
                    break
                now = monotonic_ns() + offset_ns
                received += 1
                if self.keep(buf, size, kept, now):
                    kept += 1
                else:
                    foreign += 1
                if now >= until_ns:
                    break
        if error or received == 0:  # the time it ended, not the last message's
            now = monotonic_ns() + offset_ns
        return kept, foreign, received, now, error


def send_burst(uintptr_t socket, unsigned char[::1] message, uint64_t seq, uint64_t end, uint64_t first,
               list sizes):
    """Stamp ``message`` (seq, send time, work size from ``sizes[seq - first]``) and send it
    without blocking, from ``seq`` until ``end`` or until every peer's pipe is full.  Returns
    (next seq, errno): EAGAIN means blocked, 0 that all went."""
    cdef unsigned char *data = &message[0]
    cdef size_t length = message.shape[0]
    cdef uint32_t work
    cdef int error = 0
    if length < HEADER_SIZE:
        raise ValueError("a message holds at least a header")
    if end > first + <uint64_t>PyList_GET_SIZE(sizes):
        raise ValueError("the work sizes end before the burst does")
    while seq < end:
        work = <uint32_t>PyLong_AsUnsignedLong(<object>PyList_GET_ITEM(sizes, seq - first))
        put_le(data + SEQ_OFFSET, seq, 8)
        put_le(data + SEQ_OFFSET + 8, <uint64_t>monotonic_ns(), 8)
        put_le(data + SEQ_OFFSET + 16, work, 4)
        if zmq_send(<void *>socket, data, length, ZMQ_DONTWAIT) < 0:
            error = zmq_errno()
            break
        seq += 1
    return seq, error


def bare_send(uintptr_t socket, bytes payload, Py_ssize_t count):
    """The benchmarks' compiled baseline: send ``payload`` ``count`` times, blocking, and nothing
    else (no stamp, no count).  Returns errno, 0 when all went."""
    cdef const char *data = payload
    cdef size_t length = len(payload)
    cdef Py_ssize_t i
    cdef int error = 0
    with nogil:
        for i in range(count):
            if zmq_send(<void *>socket, data, length, 0) < 0:
                error = zmq_errno()
                break
    return error


def bare_receive(uintptr_t socket):
    """The benchmarks' compiled baseline: receive until a receive times out (RCVTIMEO), keeping
    nothing.  Returns (messages, when the last came, errno)."""
    cdef unsigned char buf[HEADER_SIZE]
    cdef Py_ssize_t count = 0
    cdef int64_t last = 0
    cdef int error = 0
    with nogil:
        while True:
            if zmq_recv(<void *>socket, buf, HEADER_SIZE, 0) < 0:
                error = zmq_errno()
                break
            count += 1
            last = monotonic_ns()
    return count, last, error


# lb-broker's broker turns and worker burst: a file of their own, compiled into this module.
include "lb_broker.pxi"
