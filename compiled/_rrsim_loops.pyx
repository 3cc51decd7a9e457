# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""rrsim's per-message loops, compiled: the worker's receive burst and the pusher's send burst.

The Python loops in ``rrsim.child.loops`` are the reference; these do the same between the same
libzmq calls on the same sockets, without the interpreter in between.  libzmq is not linked:
``bind`` is handed the addresses of the few functions used, taken from the libzmq pyzmq itself
loaded (a socket made by one copy of libzmq cannot be used through another), so this module
needs neither zmq.h nor pyzmq at build time.  See docs/compiled.md.
"""

from libc.errno cimport EAGAIN, EINTR
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memcmp, memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsUnsignedLong

# The libzmq calls, as declared in zmq.h since libzmq 3.2.
ctypedef int (*zmq_recv_t)(void *socket, void *buf, size_t length, int flags) noexcept nogil
ctypedef int (*zmq_send_t)(void *socket, const void *buf, size_t length, int flags) noexcept nogil
ctypedef int (*zmq_errno_t)() noexcept nogil

DEF ZMQ_DONTWAIT = 1
# The wire (rrsim/wire.py): MAGIC (4 bytes) | pusher index u16 | seq u64 | send time i64 | work u32.
DEF MAGIC_SIZE = 4
DEF HEADER_SIZE = 26
DEF RECEIPT_SIZE = 22
DEF SEQ_OFFSET = 6

ABI = 1  # rrsim.child.loops uses this module only when it expects the same

cdef zmq_recv_t zmq_recv = NULL
cdef zmq_send_t zmq_send = NULL
cdef zmq_errno_t zmq_errno = NULL


def bind(uintptr_t recv, uintptr_t send, uintptr_t errno):
    """The addresses of zmq_recv, zmq_send and zmq_errno in the libzmq pyzmq loaded."""
    global zmq_recv, zmq_send, zmq_errno
    zmq_recv = <zmq_recv_t>recv
    zmq_send = <zmq_send_t>send
    zmq_errno = <zmq_errno_t>errno


cdef inline int64_t monotonic_ns() noexcept nogil:
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return <int64_t>now.tv_sec * 1000000000 + now.tv_nsec


cdef inline void put_le(unsigned char *at, uint64_t value, int size) noexcept nogil:
    cdef int i
    for i in range(size):
        at[i] = <unsigned char>(value >> (8 * i))


cdef class Receiver:
    """A PULL's receive burst into a batch of receipts: each message's 22 header bytes after the
    magic and its receive time, or a count of foreign ones (not ours, or shorter than a header)."""

    cdef void *socket
    cdef bytes magic
    cdef unsigned char[::1] heads
    cdef int64_t[::1] stamps
    cdef public Py_ssize_t capacity

    def __init__(self, uintptr_t socket, bytes magic, Py_ssize_t capacity):
        if zmq_recv == NULL:
            raise RuntimeError("_rrsim_loops.bind was not called")
        if len(magic) != MAGIC_SIZE:
            raise ValueError("the magic is 4 bytes")
        self.socket = <void *>socket
        self.magic = magic
        self.capacity = capacity
        self.heads = bytearray(capacity * RECEIPT_SIZE)
        self.stamps = memoryview(bytearray(capacity * 8)).cast("q")

    def burst(self, int64_t until_ns, int64_t offset_ns, Py_ssize_t room):
        """Receive until a receive times out (the socket's RCVTIMEO), a message arrives at or
        after ``until_ns``, or ``room`` receipts are kept.  Returns (kept, foreign, received,
        now_ns, errno): errno 0, EAGAIN or EINTR end a burst normally, anything else is an error."""
        cdef unsigned char buf[HEADER_SIZE]
        cdef const unsigned char *magic = self.magic
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
                if size >= HEADER_SIZE and memcmp(buf, magic, MAGIC_SIZE) == 0:
                    memcpy(&self.heads[kept * RECEIPT_SIZE], &buf[MAGIC_SIZE], RECEIPT_SIZE)
                    self.stamps[kept] = now
                    kept += 1
                else:
                    foreign += 1
                if now >= until_ns:
                    break
        if error or received == 0:  # the time it ended, not the last message's
            now = monotonic_ns() + offset_ns
        return kept, foreign, received, now, error

    def heads_bytes(self, Py_ssize_t kept):
        return bytes(self.heads[:kept * RECEIPT_SIZE])

    def stamps_bytes(self, Py_ssize_t kept):
        return bytes(memoryview(self.stamps[:kept]).cast("B"))


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
