/* The system calls FramedSocket makes on a socket's descriptor, in one place.
 *
 * Each returns what the call returned and leaves errno as the call set it; the
 * caller runs them with the GIL released and handles EINTR and EAGAIN itself.
 */
#ifndef FASTFRAME_IO_H
#define FASTFRAME_IO_H

#include <errno.h>
#include <string.h>

#ifdef _WIN32
/* No descriptor path: FramedSocket calls the socket object's methods instead
 * (the same splitter, the same behaviour).  These are never called. */
#define FF_FD_PATH 0
#define FF_IOV_BATCH 1
struct iovec { void *iov_base; size_t iov_len; };
static inline Py_ssize_t ff_recv(int fd, char *buf, Py_ssize_t n) { errno = ENOSYS; return -1; }
static inline Py_ssize_t ff_recv2(int fd, char *buf, Py_ssize_t n, char *buf2, Py_ssize_t n2) { errno = ENOSYS; return -1; }
static inline Py_ssize_t ff_sendv(int fd, struct iovec *iov, int count) { errno = ENOSYS; return -1; }
static inline int ff_poll(int fd, int writing, int timeout_ms) { errno = ENOSYS; return -1; }
static inline int ff_would_block(int err) { return 0; }
static inline double ff_monotonic(void) { return 0.0; }
#else
#define FF_FD_PATH 1
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#ifdef __APPLE__
#include <mach/mach_time.h>
#else
#include <time.h>
#endif

/* A peer that has gone must give EPIPE, never SIGPIPE (an embedding program
 * may not ignore it as Python does).  Linux has MSG_NOSIGNAL, and so do the
 * macOS SDKs of recent years; without it only a process that ignores SIGPIPE,
 * as every Python program does, is safe (SO_NOSIGPIPE would change the
 * caller's socket for good). */
#ifdef MSG_NOSIGNAL
#define FF_SEND_FLAGS MSG_NOSIGNAL
#else
#define FF_SEND_FLAGS 0
#endif

/* iovecs per sendmsg(); POSIX guarantees at least 16, Linux and macOS 1024 */
#define FF_IOV_BATCH 64

static inline Py_ssize_t ff_recv(int fd, char *buf, Py_ssize_t n)
{
    return recv(fd, buf, (size_t)n, 0);
}

/* into buf, then buf2 once buf is full */
static inline Py_ssize_t ff_recv2(int fd, char *buf, Py_ssize_t n, char *buf2, Py_ssize_t n2)
{
    struct iovec iov[2];
    struct msghdr msg;
    iov[0].iov_base = buf;
    iov[0].iov_len = (size_t)n;
    iov[1].iov_base = buf2;
    iov[1].iov_len = (size_t)n2;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    return recvmsg(fd, &msg, 0);
}

static inline Py_ssize_t ff_sendv(int fd, struct iovec *iov, int count)
{
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    return sendmsg(fd, &msg, FF_SEND_FLAGS);
}

/* 1: ready (or in error, which the next call reports), 0: timed out, -1: errno */
static inline int ff_poll(int fd, int writing, int timeout_ms)
{
    struct pollfd p;
    p.fd = fd;
    p.events = writing ? POLLOUT : POLLIN;
    p.revents = 0;
    return poll(&p, 1, timeout_ms);
}

static inline int ff_would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

#ifdef __APPLE__
/* clock_gettime() is macOS 10.12+, and a wheel may target older: the clock
 * Python's time.monotonic() reads there */
static inline double ff_monotonic(void)
{
    static double tick = 0.0; /* seconds per unit */
    if (tick == 0.0) {
        mach_timebase_info_data_t base;
        if (mach_timebase_info(&base) != KERN_SUCCESS || base.denom == 0)
            base.numer = base.denom = 1;
        tick = (double)base.numer / (double)base.denom * 1e-9;
    }
    return (double)mach_absolute_time() * tick;
}
#else
static inline double ff_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
#endif

#endif /* _WIN32 */

#endif
